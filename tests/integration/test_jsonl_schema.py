"""The JSON Lines validator itself (jsonl_schema.py), and docs/json-lines.schema.json against the check catalog and
docs/json-lines.md. Needs no binary: the records here are written by hand after real output of the tool."""

import base64
import copy
import json
import os
import re
import unittest

import helpers as H
import jsonl_schema as S

FILE = {"type": "file", "path": "/srv/a.dcm", "verdict": "dangerous", "checks": ["file.preamble.executable"],
        "size": 1024, "preamble": {"kind": "executable", "nonzero_bytes": 90, "format": "PE"},
        "meta": {"transfer_syntax": "1.2.840.10008.1.2.1", "media_storage_sop_class": "1.2.840.10008.5.1.4.1.1.7"},
        "encoding": "Explicit VR Little Endian", "elements": 17, "bytes_scanned": 600, "scan_complete": True}
FINDING = {"type": "finding", "check": "file.preamble.executable", "severity": "critical", "target": "/srv/a.dcm",
           "title": "Preamble is an executable header: ELF (ELF64 little-endian); its body is in (0029,1010) at offset 664",
           "evidence": {"detail": "ELF64 little-endian", "format": "ELF",
                        "points": [{"location": "preamble", "offset": 64},
                                   {"element_offset": 652, "location": "element value", "offset": 664,
                                    "tag": "(0029,1010)", "vr": "OB"}]}}
SUMMARY = {"type": "summary", "command": "files", "files": 1, "status": {"dangerous": 1},
           "findings": {"critical": 1, "high": 0, "medium": 0, "low": 0, "info": 0}, "errors": 0, "seconds": 0.01,
           "subjects": 1}


def errors_of(obj):
    return S.validate(obj)


class ValidatorTest(unittest.TestCase):
    def assertValid(self, obj):
        self.assertEqual(errors_of(obj), [], obj)

    def assertInvalid(self, obj, fragment):
        errs = errors_of(obj)
        self.assertTrue(errs, f"accepted: {obj}")
        self.assertTrue(any(fragment in e for e in errs), errs)

    def test_real_shaped_records_are_valid(self):
        for o in (FILE, FINDING, SUMMARY):
            self.assertValid(o)
        self.assertEqual(S.validate_stream([FILE, FINDING, SUMMARY]), [])

    def test_a_record_with_an_undocumented_field_fails(self):
        self.assertInvalid(dict(FILE, colour="red"), "field 'colour' is not documented")
        self.assertInvalid(dict(FINDING, cve="CVE-2019-11687"), "field 'cve' is not documented")
        # Nested objects whose fields are listed are closed too.
        self.assertInvalid(dict(FILE, preamble={"kind": "zero", "nonzero_bytes": 0, "entropy": 0.1}),
                           "field 'entropy' is not documented")
        # A field documented for one variant only is undocumented in another.
        self.assertInvalid(dict(FILE, verdict="error", error="x", size=3, preamble={"kind": "zero"}),
                           "field 'size' is not documented")

    def test_evidence_is_checked_by_check(self):
        ev = FINDING["evidence"]
        self.assertInvalid(dict(FINDING, evidence=dict(ev, patient_name="X")), "field 'patient_name' is not documented")
        self.assertInvalid(dict(FINDING, evidence={"format": "ELF", "points": []}), "required field 'detail' is missing")
        self.assertInvalid(dict(FINDING, evidence=dict(ev, points=[{"offset": "64", "location": "preamble"}])),
                           "evidence.points[0].offset: string")
        self.assertValid(dict(FINDING, check="tls.compression", severity="high", evidence={}))
        self.assertInvalid(dict(FINDING, check="tls.compression", severity="high", evidence={"x": 1}), "not documented")

    def test_unknown_type_fails(self):
        self.assertInvalid({"type": "telemetry", "x": 1}, "unknown type 'telemetry'")
        self.assertInvalid({"x": 1}, "unknown type None")

    def test_missing_required_field_fails(self):
        o = dict(FILE)
        del o["preamble"]
        self.assertInvalid(o, "required field 'preamble' is missing")
        o = copy.deepcopy(FINDING)
        del o["evidence"]
        self.assertInvalid(o, "required field 'evidence' is missing")
        self.assertInvalid(dict(FILE, verdict="error"), "required field 'error' is missing")

    def test_wrong_json_type_fails(self):
        self.assertInvalid(dict(FILE, size="1024"), "file.size: string")
        self.assertInvalid(dict(FILE, size=True), "file.size: boolean")  # a bool is no integer
        self.assertInvalid(dict(FILE, scan_complete=1), "file.scan_complete: integer")
        self.assertInvalid(dict(FILE, checks="file.preamble.executable"), "file.checks: string")
        self.assertInvalid(dict(SUMMARY, status={"clean": "1"}), "summary.status['clean']: string")

    def test_closed_sets(self):
        self.assertInvalid(dict(FILE, verdict="evil"), "verdict='evil' is none of the documented cases")
        self.assertInvalid(dict(FINDING, severity="urgent"), "'urgent' is not one of")
        self.assertInvalid(dict(FINDING, check="file.made-up"), "'file.made-up' is not one of")
        self.assertInvalid(dict(FILE, preamble={"kind": "weird"}), "'weird' is not one of")

    def test_bytes_fields(self):
        raw = b"/srv/scan\xff.dcm"
        b64 = base64.b64encode(raw).decode()
        self.assertValid(dict(FILE, path=raw.decode("utf-8", "replace"), path_bytes=b64))
        self.assertValid(dict(FINDING, target=raw.decode("utf-8", "replace"), target_bytes=b64))
        # Only beside a documented string field, only where the sink writes them, only for bytes that are not UTF-8.
        self.assertInvalid(dict(FILE, size_bytes=b64), "beside a field that is not a string")
        self.assertInvalid(dict(FILE, colour_bytes=b64), "field 'colour_bytes' is not documented")
        self.assertInvalid(dict(FINDING, title_bytes=b64), "field 'title_bytes' is not documented")
        self.assertInvalid(dict(SUMMARY, command_bytes=b64), "not documented")
        self.assertInvalid(dict(FILE, path_bytes=base64.b64encode(b"/srv/a.dcm").decode()), "valid UTF-8")
        self.assertInvalid(dict(FILE, path_bytes="not base64!"), "not base64")

    def test_stream_rules(self):
        other = dict(FINDING, target="/srv/b.dcm")
        self.assertTrue(any("follows the file record" in e for e in S.validate_stream([FILE, other])))
        self.assertTrue(any("follows no record" in e for e in S.validate_stream([FINDING, FILE])))
        self.assertTrue(any("lists checks" in e for e in S.validate_stream([FILE, SUMMARY])))
        self.assertTrue(any("after the summary" in e for e in S.validate_stream([FILE, FINDING, SUMMARY, FILE])))
        wrong = dict(SUMMARY, files=2)
        self.assertTrue(any("files=2" in e for e in S.validate_stream([FILE, FINDING, wrong])))
        wrong = dict(SUMMARY, findings=dict(SUMMARY["findings"], critical=0, high=1))
        self.assertTrue(any("summary findings" in e for e in S.validate_stream([FILE, FINDING, wrong])))
        service = {"address": "::1", "port": 104}
        self.assertEqual(S.record_target(dict(service, type="service")), "[::1]:104")

    def test_parse_jsonl_validates(self):
        good = "\n".join(json.dumps(o) for o in (FILE, FINDING, SUMMARY))
        self.assertEqual(len(H.parse_jsonl(good)), 3)
        bad = "\n".join(json.dumps(o) for o in (dict(FILE, colour="red"), FINDING, SUMMARY))
        with self.assertRaises(AssertionError) as cm:
            H.parse_jsonl(bad)
        self.assertIn("line 1: file: field 'colour' is not documented", str(cm.exception))
        self.assertEqual(len(H.parse_jsonl(bad, validate=False)), 3)


class SchemaTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.schema = S.load_schema()
        with open(os.path.join(H.SOURCE_DIR, "docs", "json-lines.md")) as f:
            cls.doc = f.read()

    def test_schema_is_well_formed(self):
        self.assertEqual(S.check_schema(self.schema), [])

    def test_check_ids_and_severities_are_the_catalog(self):
        with open(os.path.join(H.SOURCE_DIR, "data", "checks.json")) as f:
            catalog = json.load(f)["checks"]
        self.assertEqual(sorted(self.schema["defs"]["check_id"]["enum"]), sorted(c["id"] for c in catalog))
        self.assertLessEqual({c["severity"] for c in catalog}, set(self.schema["defs"]["severity"]["enum"]))

    def all_fields(self, fields, prefix=""):
        """(dotted name, spec) of every field, nested ones included."""
        v = S.Validator(self.schema)
        for name, spec in fields.items():
            spec = v.resolve(spec)
            yield prefix + name, spec
            for sub in ("fields",):
                if sub in spec:
                    yield from self.all_fields(spec[sub], prefix + name + ".")
            for sub in ("items", "values"):
                if sub in spec and "fields" in v.resolve(spec[sub]):
                    yield from self.all_fields(v.resolve(spec[sub])["fields"], prefix + name + ".")

    def type_fields(self, t):
        tdesc = self.schema["types"][t]
        fields = dict(tdesc.get("fields", {}))
        for case in tdesc.get("variants", {}).get("cases", []):
            for name in case.get("include", []):
                fields.update(self.schema["fieldsets"][name])
            fields.update(case["fields"])
        for case in tdesc.get("alternates", {}).get("cases", []):
            fields.update(case["fields"])
        return fields

    def section(self, t):
        heading = t if " " in t else f"`{t}`"
        m = re.search(r"^## " + re.escape(heading) + r".*?(?=^## )", self.doc, re.M | re.S)
        self.assertIsNotNone(m, f"docs/json-lines.md has no section '## `{t}`'")
        return m.group(0)

    def test_the_doc_names_every_type_field_and_value(self):
        for t in self.schema["types"]:
            sec = self.section(t)
            for name, spec in self.all_fields(self.type_fields(t)):
                leaf = name.rsplit(".", 1)[-1]
                where = sec if "." not in name else self.doc  # nested objects shared by types are described once
                self.assertTrue(f"`{leaf}`" in where or f"`{name}`" in where,
                                f"docs/json-lines.md does not describe {t}.{name}")
                for value in spec.get("enum", []):
                    if value:
                        self.assertIn(f"`{value}`", self.doc, f"docs/json-lines.md does not name {t}.{name} = {value}")

    def test_the_doc_names_every_evidence_field(self):
        sec = self.section("Evidence by check")
        rows = {}
        for line in sec.splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) == 2:
                for check in re.findall(r"`([a-z0-9.-]+)`", cells[0]):
                    rows[check] = cells[1]
        for check, fields in self.schema["evidence"].items():
            self.assertIn(check, rows, f"docs/json-lines.md: no row for {check} under Evidence by check")
            for name, spec in self.all_fields(fields):
                leaf = name.rsplit(".", 1)[-1]
                where = rows[check] if "." not in name else self.doc  # shared objects are described once
                self.assertIn(f"`{leaf}`", where, f"docs/json-lines.md: evidence {name!r} of {check}")
            if not fields:
                self.assertIn("`{}`", rows[check], check)


if __name__ == "__main__":
    unittest.main()
