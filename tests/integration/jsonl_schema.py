"""Checks dicomguard's JSON Lines output against docs/json-lines.schema.json (standard library only).

Two levels:

* validate(obj): one object against its type's description: an unknown type, a missing required field, a field
  of the wrong JSON type, a value outside a closed set, or a field the schema does not describe is an error
  (nested objects too, wherever the schema lists their fields, and a finding's evidence, by check). FIELD_bytes
  beside a string field is allowed where the type says so (base64 of bytes that are not valid UTF-8).
* validate_stream(objs): the rules between lines: a finding follows the record it is about (same target), a
  record's "checks" lists the findings that follow it, nothing follows the summary, and the summary counts what
  came before it.

Both return a list of error strings (empty: valid). helpers.parse_jsonl calls them on every output it parses.
"""

import base64
import binascii
import collections
import json
import os

SCHEMA_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "json-lines.schema.json")

_JSON_TYPES = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
}
_SPEC_KEYS = {"type", "required", "enum", "fields", "values", "open", "items", "ref"}

_cache = {}


def load_schema(path=SCHEMA_PATH):
    path = os.path.abspath(path)
    if path not in _cache:
        with open(path) as f:
            _cache[path] = json.load(f)
    return _cache[path]


def _json_type(v):
    for name in ("null", "boolean", "integer", "number", "string", "array", "object"):
        if _JSON_TYPES[name](v):
            return name
    return type(v).__name__


class Validator:
    def __init__(self, schema=None):
        self.schema = schema if schema is not None else load_schema()
        self.defs = self.schema.get("defs", {})
        self.fieldsets = self.schema.get("fieldsets", {})
        self.types = self.schema["types"]

    # ------------------------------------------------------------------------------------------ descriptions
    def resolve(self, spec, seen=()):
        """A field description with its "ref" replaced by the definition (this description's keys on top)."""
        if "ref" not in spec:
            return spec
        name = spec["ref"]
        if name in seen or name not in self.defs:
            raise ValueError(f"schema: bad ref {name!r}")
        out = dict(self.resolve(self.defs[name], seen + (name,)))
        out.update({k: v for k, v in spec.items() if k != "ref"})
        return out

    def fields_of(self, obj):
        """(fields, type description) for obj, or raises KeyError naming what is wrong."""
        t = obj.get("type")
        if not isinstance(t, str) or t not in self.types:
            raise KeyError(f"unknown type {t!r} (documented: {', '.join(sorted(self.types))})")
        tdesc = self.types[t]
        fields = dict(tdesc.get("fields", {}))
        alt = tdesc.get("alternates")
        if alt and obj.get(alt["by"]) is not None:
            key = obj.get(alt["by"])
            case = next((c for c in alt["cases"] if key in c["when"]), None)
            if case is None:
                raise KeyError(f"{t}: {alt['by']}={key!r} is none of the documented cases")
            fields.update(case["fields"])
            return fields, tdesc
        var = tdesc.get("variants")
        if var:
            key = obj.get(var["by"])
            case = next((c for c in var["cases"] if key in c["when"]), None)
            if case is None:
                raise KeyError(f"{t}: {var['by']}={key!r} is none of the documented cases")
            for name in case.get("include", []):
                fields.update(self.fieldsets[name])
            fields.update(case["fields"])
        return fields, tdesc

    # ------------------------------------------------------------------------------------------ one object
    def validate(self, obj):
        if not isinstance(obj, dict):
            return [f"not an object: {obj!r:.80}"]
        try:
            fields, tdesc = self.fields_of(obj)
        except KeyError as e:
            return [e.args[0]]
        errors = []
        self._object(obj, fields, obj["type"], errors, bytes_rule=tdesc.get("bytes"))
        if obj["type"] == "finding" and isinstance(obj.get("evidence"), dict):
            evidence = self.schema.get("evidence", {})
            if obj.get("check") in evidence:
                self._object(obj["evidence"], evidence[obj["check"]], f"finding[{obj['check']}].evidence", errors)
        return errors

    def _object(self, obj, fields, where, errors, bytes_rule=None):
        for name, spec in fields.items():
            spec = self.resolve(spec)
            if name not in obj:
                if spec.get("required"):
                    errors.append(f"{where}: required field {name!r} is missing")
                continue
            self._value(obj[name], spec, f"{where}.{name}", errors)
        for name, value in obj.items():
            if name in fields:
                continue
            base = name[:-len("_bytes")] if name.endswith("_bytes") else None
            if base is not None and base in fields and self._bytes_allowed(bytes_rule, base):
                self._bytes(obj, base, value, f"{where}.{name}", errors)
                continue
            errors.append(f"{where}: field {name!r} is not documented (value {json.dumps(value)[:80]})")

    @staticmethod
    def _bytes_allowed(rule, base):
        return rule == "strings" or (isinstance(rule, list) and base in rule)

    @staticmethod
    def _bytes(obj, base, value, where, errors):
        if not isinstance(obj.get(base), str):
            errors.append(f"{where}: beside a field that is not a string")
            return
        if not isinstance(value, str):
            errors.append(f"{where}: not a string but {_json_type(value)}")
            return
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            errors.append(f"{where}: not base64: {value[:80]!r}")
            return
        try:
            raw.decode("utf-8")
            errors.append(f"{where}: written although the bytes are valid UTF-8")
        except UnicodeDecodeError:
            pass

    def _value(self, value, spec, where, errors):
        types = spec.get("type")
        if types is None:
            raise ValueError(f"schema: {where} has no type")
        types = [types] if isinstance(types, str) else types
        if not any(_JSON_TYPES[t](value) for t in types):
            errors.append(f"{where}: {_json_type(value)} {json.dumps(value)[:80]}, documented as {'|'.join(types)}")
            return
        if "enum" in spec and value is not None and not isinstance(value, (dict, list)) and value not in spec["enum"]:
            errors.append(f"{where}: {value!r} is not one of {spec['enum']}")
        if isinstance(value, dict):
            if "fields" in spec:
                self._object(value, spec["fields"], where, errors)
            elif "values" in spec:
                vspec = self.resolve(spec["values"])
                for k, v in value.items():
                    self._value(v, vspec, f"{where}[{k!r}]", errors)
            elif not spec.get("open"):
                raise ValueError(f"schema: object {where} has neither fields, values nor open")
        elif isinstance(value, list):
            if "items" not in spec:
                raise ValueError(f"schema: array {where} has no items")
            ispec = self.resolve(spec["items"])
            for i, v in enumerate(value):
                self._value(v, ispec, f"{where}[{i}]", errors)

    # ------------------------------------------------------------------------------------------ the stream
    def validate_stream(self, objs):
        """Rules between lines (objects assumed individually valid; what is not is skipped here)."""
        errors = []
        owner = None          # (index, object) of the record findings attach to
        attached = []         # check IDs of the findings after the owner
        summary_at = None
        severities = collections.Counter()      # of findings, by the type of record they follow
        records = collections.defaultdict(list)

        def close_owner():
            if owner is not None and owner[1].get("type") not in ("sanitize", "deid"):
                if owner[1].get("checks") != attached:
                    errors.append(f"line {owner[0] + 1}: {owner[1].get('type')} record lists checks "
                                  f"{owner[1].get('checks')} but the findings after it are {attached}")

        for i, o in enumerate(objs):
            t = o.get("type") if isinstance(o, dict) else None
            if summary_at is not None:
                errors.append(f"line {i + 1}: {t} after the summary (line {summary_at + 1})")
            if t == "finding":
                if owner is None:
                    errors.append(f"line {i + 1}: a finding that follows no record")
                    continue
                want = record_target(owner[1])
                if o.get("target") != want:
                    errors.append(f"line {i + 1}: finding for {o.get('target')!r} follows the {owner[1].get('type')} "
                                  f"record of {want!r} (line {owner[0] + 1})")
                if owner[1].get("type") in ("sanitize", "deid"):
                    errors.append(f"line {i + 1}: a finding after a {owner[1].get('type')} record (they have none)")
                attached.append(o.get("check"))
                severities[(owner[1].get("type"), o.get("severity"))] += 1
                continue
            close_owner()
            owner, attached = None, []
            if t in ("file", "sanitize", "deid", "verify", "service", "tls", "change", "denial", "association",
                     "weblog", "audit", "audit-expect", "clock", "ntp"):
                owner = (i, o)
                records[t].append(o)
            elif t == "summary":
                summary_at = i
                errors += self._summary(i, o, records, severities)
        close_owner()
        return errors

    @staticmethod
    def _summary(i, s, records, severities):
        errors = []
        command = s.get("command")
        kind = {"files": "file", "sanitize": "sanitize", "deid": "deid", "deid-verify": "verify", "scan": "service",
                "tls": "tls", "gateway": "association", "weblog": "weblog"}.get(command)
        if command == "scan" and s.get("probe") == "tls":
            kind = "tls"  # scan --probe tls: the records counted are TLS grades
        if kind is None:
            return errors
        recs = records[kind]
        status = collections.Counter()
        for r in recs:
            if kind == "file":
                status[r.get("verdict")] += 1
            elif kind == "sanitize":
                status[r.get("action")] += 1
            elif kind in ("deid", "verify", "weblog"):
                status[r.get("status")] += 1
            elif kind == "association":
                status[r.get("ended")] += 1
            elif kind == "service":
                dicom = r.get("protocol") in ("dimse", "dimse-tls") or r.get("dicom")
                status[r.get("exposure") if dicom else "not-dicom"] += 1
            else:
                meets = r.get("meets") or []
                status["pass" if "B.12" in meets or "B.13" in meets else "fail"] += 1
        if dict(status) != s.get("status"):
            errors.append(f"line {i + 1}: summary status {s.get('status')} but the {kind} records say {dict(status)}")
        noun = {"file": "files", "sanitize": "files", "deid": "files", "verify": "files", "service": "services",
                "association": "associations", "weblog": "logs"}.get(kind)
        if noun and s.get(noun) != len(recs):
            errors.append(f"line {i + 1}: summary {noun}={s.get(noun)} but {len(recs)} {kind} records came before it")
        if s.get("errors") != status.get("error", 0):
            errors.append(f"line {i + 1}: summary errors={s.get('errors')} but {status.get('error', 0)} {kind} records "
                          f"are errors")
        owner_kind = "denial" if kind == "association" else kind  # the gateway's findings follow its denials
        owners = (owner_kind, "clock", "ntp") if command == "scan" else (owner_kind,)
        found = {sev: sum(severities[(o, sev)] for o in owners) for sev in ("critical", "high", "medium", "low", "info")}
        if found != s.get("findings"):
            errors.append(f"line {i + 1}: summary findings {s.get('findings')} but the findings after {kind} records "
                          f"are {found}")
        return errors


def record_target(rec):
    """What the findings of a record name as their target."""
    t = rec.get("type")
    if t in ("file", "sanitize", "verify", "weblog"):
        return rec.get("path")
    if t == "deid":
        return rec.get("input")
    if t in ("denial", "association"):
        return rec.get("peer")
    if t in ("tls", "change", "audit", "audit-expect", "clock", "ntp"):
        return rec.get("target")
    if t == "service":
        a, p = rec.get("address", ""), rec.get("port")
        return f"[{a}]:{p}" if ":" in a else f"{a}:{p}"
    return None


_default = None


def validator():
    global _default
    if _default is None:
        _default = Validator()
    return _default


def validate(obj):
    return validator().validate(obj)


def validate_stream(objs):
    return validator().validate_stream(objs)


def check_schema(schema):
    """Problems of the schema itself (for its unit test): unknown keys, types, refs, cases."""
    v = Validator(schema)
    problems = []

    def spec_ok(spec, where):
        unknown = set(spec) - _SPEC_KEYS
        if unknown:
            problems.append(f"{where}: unknown keys {sorted(unknown)}")
        try:
            r = v.resolve(spec)
        except ValueError as e:
            problems.append(f"{where}: {e}")
            return
        types = r.get("type")
        types = [types] if isinstance(types, str) else (types or [])
        if not types:
            problems.append(f"{where}: no type")
        for t in types:
            if t not in _JSON_TYPES:
                problems.append(f"{where}: unknown JSON type {t!r}")
        if "object" in types and not ("fields" in r or "values" in r or r.get("open")):
            problems.append(f"{where}: object without fields, values or open")
        if "array" in types and "items" not in r:
            problems.append(f"{where}: array without items")
        for name, f in (r.get("fields") or {}).items():
            spec_ok(f, f"{where}.{name}")
        if "values" in r:
            spec_ok(r["values"], f"{where}[*]")
        if "items" in r:
            spec_ok(r["items"], f"{where}[]")

    for name, d in schema.get("defs", {}).items():
        spec_ok(d, f"defs.{name}")
    ids = v.resolve({"ref": "check_id"}).get("enum", []) if "check_id" in v.defs else []
    if sorted(schema.get("evidence", {})) != sorted(ids):
        problems.append(f"evidence: the checks described are not the check IDs: "
                        f"{sorted(set(schema.get('evidence', {})) ^ set(ids))}")
    for check, fields in schema.get("evidence", {}).items():
        for fname, f in fields.items():
            spec_ok(f, f"evidence.{check}.{fname}")
    for name, fs in schema.get("fieldsets", {}).items():
        for fname, f in fs.items():
            spec_ok(f, f"fieldsets.{name}.{fname}")
    for t, tdesc in schema["types"].items():
        fields = tdesc.get("fields", {})
        tf = v.resolve(fields.get("type", {}))
        if tf.get("enum") != [t] or not tf.get("required"):
            problems.append(f"{t}: its 'type' field must be required with enum [{t!r}]")
        for name, f in fields.items():
            spec_ok(f, f"{t}.{name}")
        alt = tdesc.get("alternates")
        if alt:
            for c in alt["cases"]:
                by = v.resolve(c["fields"].get(alt["by"], {}))
                if by.get("enum") is None or not set(c["when"]) <= set(by["enum"]) or not by.get("required"):
                    problems.append(f"{t}: alternates by {alt['by']!r}: each case must hold it, required, with an enum")
                for name, f in c["fields"].items():
                    spec_ok(f, f"{t}[{alt['by']}={c['when'][0]}].{name}")
        var = tdesc.get("variants")
        if var:
            by = v.resolve(fields.get(var["by"], {}))
            values = by.get("enum")
            if not values or not by.get("required"):
                problems.append(f"{t}: variants by {var['by']!r}, which is not a required field with an enum")
                continue
            seen = [w for c in var["cases"] for w in c["when"]]
            if sorted(seen) != sorted(values):
                problems.append(f"{t}: cases cover {sorted(seen)}, the enum of {var['by']} is {sorted(values)}")
            for c in var["cases"]:
                for name in c.get("include", []):
                    if name not in v.fieldsets:
                        problems.append(f"{t}[{var['by']}={c['when'][0]}]: unknown fieldset {name!r}")
                for name, f in c["fields"].items():
                    spec_ok(f, f"{t}[{var['by']}={c['when'][0]}].{name}")
    return problems
