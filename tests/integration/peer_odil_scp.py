#!/usr/bin/python3
"""A small Query/Retrieve + Storage SCP built on odil's Python bindings (Debian python3-odil 0.12.2).

Run with Debian's /usr/bin/python3 (python3-odil is built for it), e.g.:
    /usr/bin/python3 odil_scp.py --port 11112 --ae ODILQR --move-dest STORESCU=127.0.0.1:11113

odil's Association.receive_association("v4", port) opens a listening socket on 0.0.0.0 (odil's Python
binding takes no bind address), accepts ONE connection and closes the listener. This script loops, so
between two associations there is no listener at all: a connection attempt in that gap gets
ECONNREFUSED, and so does a second connection while an association is open. A silent connection holds
the only slot until --tcp-timeout (default 30 s). (start_odil.sh adds LD_PRELOAD=bindlo.so, so that it
listens on 127.0.0.1 only.)

Behaviour, all in memory (nothing is written to disk):
  * association: odil's Python binding has no association acceptor hook, so every called and calling AE
    title and every presentation context odil knows is accepted;
  * --ae: with --strict-called, commands on an association addressed to another called AE get
    status --refuse-status (default 0x0124 Refused: Not authorized); without it the title is only
    used as our calling AE for C-MOVE sub-associations;
  * --allow-calling AE[,AE...]: commands from any other calling AE get --refuse-status (command-level
    refusal on an accepted association). C-ECHO is refused too unless --echo-open;
  * C-STORE: kept in memory (--no-store: refused with 0xA700);
  * C-FIND (patient/study root, any level): matches PatientID / StudyInstanceUID / SeriesInstanceUID /
    SOPInstanceUID exactly (empty or '*' matches all); returns the requested keys only;
  * C-MOVE: destination from --move-dest AE=host:port; --move-to-requester PORT sends to the
    requester's address at PORT whatever the destination AE title is; --move-aet-as-address treats a
    destination "host:port" as an address; otherwise an unknown destination gets 0xA801. A study with
    no instances gives 0x0000 with zero sub-operations (no sub-association is opened);
  * C-GET: sends the matching instances back on the same association.
"""
import argparse
import signal
import sys
import time

import odil

Cmd = odil.messages.Message.Command
STUDY_ROOT_FIND = "1.2.840.10008.5.1.4.1.2.2.1"


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


def s(ds, key):
    if ds.has(key) and not ds.empty(key):
        v = ds.as_string(key)[0]
        return v.decode() if isinstance(v, bytes) else v
    return ""


class Store:
    def __init__(self):
        self.instances = []  # odil.DataSet

    def add(self, ds):
        uid = s(ds, "SOPInstanceUID")
        self.instances = [d for d in self.instances if s(d, "SOPInstanceUID") != uid] + [ds]

    def match(self, query):
        out = []
        for d in self.instances:
            ok = True
            for key in ("PatientID", "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
                want = s(query, key)
                if want and want != "*" and s(d, key) != want:
                    ok = False
            if ok:
                out.append(d)
        return out


def unique_level(matches, query):
    """One answer per entity at the query's level, carrying the query's keys (values from the match)."""
    level = s(query, "QueryRetrieveLevel") or "STUDY"
    key = {"PATIENT": "PatientID", "STUDY": "StudyInstanceUID", "SERIES": "SeriesInstanceUID",
           "IMAGE": "SOPInstanceUID"}.get(level, "StudyInstanceUID")
    seen, out = set(), []
    for d in matches:
        k = s(d, key)
        if k in seen:
            continue
        seen.add(k)
        r = odil.DataSet()
        for tag in query.keys():
            el = d.get(tag) if d.has(tag) else query.get(tag)
            r.add(tag, el)
        out.append(r)
    return out


def make_find_generator(base, items):
    class G(base):
        def __init__(self):
            base.__init__(self)
            self.items, self.i = items, 0

        def initialize(self, message):
            self.i = 0

        def done(self):
            return self.i >= len(self.items)

        def next(self):
            self.i += 1

        def get(self):
            return self.items[self.i]

        def count(self):
            return len(self.items)
    return G


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--ae", default="ODILSCP")
    p.add_argument("--strict-called", action="store_true")
    p.add_argument("--allow-calling", default="", help="comma-separated calling AE titles allowed to issue commands")
    p.add_argument("--echo-open", action="store_true", help="answer C-ECHO from any calling AE")
    p.add_argument("--refuse-status", default="0x0124")
    p.add_argument("--move-dest", action="append", default=[], help="AE=host:port (repeatable)")
    p.add_argument("--move-to-requester", type=int, default=0, metavar="PORT")
    p.add_argument("--move-aet-as-address", action="store_true")
    p.add_argument("--no-store", action="store_true")
    p.add_argument("--tcp-timeout", type=float, default=30.0)
    a = p.parse_args()
    refuse = int(a.refuse_status, 0)
    allowed = {x.strip() for x in a.allow_calling.split(",") if x.strip()}
    dests = {}
    for d in a.move_dest:
        ae, addr = d.split("=", 1)
        host, port = addr.rsplit(":", 1)
        dests[ae] = (host, int(port))
    store = Store()
    # odil blocks inside C++ (receive_association), where Python signal handlers never run: let SIGTERM and
    # SIGINT kill the process the default way, at once.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    log(f"odil_scp: port {a.port} ae {a.ae} strict_called={a.strict_called} allow_calling={sorted(allowed) or 'ANY'}")

    while True:
        association = odil.Association()
        association.set_tcp_timeout(a.tcp_timeout)
        try:
            association.receive_association("v4", a.port)
        except Exception as e:  # rejected or broken association request
            log("receive_association failed:", type(e).__name__, e)
            time.sleep(0.05)  # e.g. "bind: Address already in use" while an old socket lingers
            continue
        params = association.get_negotiated_parameters()
        calling, called = params.get_calling_ae_title(), params.get_called_ae_title()
        log(f"association from {association.get_peer_host()}:{association.get_peer_port()} calling={calling} called={called}")

        def authorized(command):
            if a.strict_called and called != a.ae:
                return False
            if command == Cmd.C_ECHO_RQ and a.echo_open:
                return True
            return not allowed or calling in allowed

        echo_scp = odil.EchoSCP(association)
        echo_scp.set_callback(lambda msg: 0 if authorized(Cmd.C_ECHO_RQ) else refuse)

        def on_store(req):
            if not authorized(Cmd.C_STORE_RQ):
                return refuse
            if a.no_store:
                return 0xA700
            store.add(req.get_data_set())
            log("stored", s(req.get_data_set(), "SOPInstanceUID"))
            return 0
        store_scp = odil.StoreSCP(association)
        store_scp.set_callback(on_store)

        try:
            while True:
                message = association.receive_message()
                field = message.get_command_field()
                if field == Cmd.C_ECHO_RQ:
                    echo_scp(message)
                elif field == Cmd.C_STORE_RQ:
                    store_scp(message)
                elif field == Cmd.C_FIND_RQ:
                    req = odil.messages.CFindRequest(message)
                    sop = req.get_affected_sop_class_uid()
                    if not authorized(field):
                        association.send_message(odil.messages.CFindResponse(req.get_message_id(), refuse), sop)
                        continue
                    items = unique_level(store.match(req.get_data_set()), req.get_data_set())
                    scp = odil.FindSCP(association)
                    gen = make_find_generator(odil.FindSCP.DataSetGenerator, items)()  # keep a reference
                    scp.set_generator(gen)
                    scp(message)
                elif field == Cmd.C_MOVE_RQ:
                    req = odil.messages.CMoveRequest(message)
                    sop = req.get_affected_sop_class_uid()
                    dest = req.get_move_destination()
                    if not authorized(field):
                        association.send_message(odil.messages.CMoveResponse(req.get_message_id(), refuse), sop)
                        continue
                    matches = store.match(req.get_data_set())
                    addr = dests.get(dest)
                    if addr is None and a.move_to_requester:
                        addr = (association.get_peer_host(), a.move_to_requester)
                    if addr is None and a.move_aet_as_address and ":" in dest:
                        h, _, pt = dest.rpartition(":")
                        addr = (h, int(pt)) if pt.isdigit() else None
                    if addr is None:
                        log("C-MOVE: unknown destination", dest)
                        association.send_message(odil.messages.CMoveResponse(req.get_message_id(), 0xA801), sop)
                        continue
                    if not matches:
                        association.send_message(odil.messages.CMoveResponse(req.get_message_id(), 0x0000), sop)
                        continue
                    log(f"C-MOVE of {len(matches)} instance(s) to {dest} at {addr[0]}:{addr[1]}")
                    base = odil.MoveSCP.DataSetGenerator

                    class MoveGen(make_find_generator(base, matches)):
                        def get_association(self, request, _addr=addr, _dest=dest):
                            m = odil.Association()
                            m.set_peer_host(_addr[0])
                            m.set_peer_port(_addr[1])
                            ctx = []
                            for i, uid in enumerate(sorted({s(d, "SOPClassUID") for d in matches})):
                                ctx.append(odil.AssociationParameters.PresentationContext(
                                    2 * i + 1, uid, [odil.registry.ImplicitVRLittleEndian, odil.registry.ExplicitVRLittleEndian],
                                    odil.AssociationParameters.PresentationContext.Role.SCU))
                            m.update_parameters().set_calling_ae_title(a.ae).set_called_ae_title(_dest).set_presentation_contexts(ctx)
                            return m
                    scp = odil.MoveSCP(association)
                    gen = MoveGen()  # keep a reference: pybind11 needs the Python object alive
                    scp.set_generator(gen)
                    try:
                        scp(message)
                    except Exception as e:
                        log("C-MOVE failed:", e)
                        association.send_message(odil.messages.CMoveResponse(req.get_message_id(), 0xA801), sop)
                elif field == Cmd.C_GET_RQ:
                    req = odil.messages.CGetRequest(message)
                    sop = req.get_affected_sop_class_uid()
                    if not authorized(field):
                        association.send_message(odil.messages.CGetResponse(req.get_message_id(), refuse), sop)
                        continue
                    matches = store.match(req.get_data_set())
                    scp = odil.GetSCP(association)
                    gen = make_find_generator(odil.GetSCP.DataSetGenerator, matches)()
                    scp.set_generator(gen)
                    scp(message)
                else:
                    log("unsupported command", field)
                    association.abort(0, 0)
                    break
        except odil.AssociationReleased:
            log("released")
        except odil.AssociationAborted as e:
            log("aborted by peer")
        except Exception as e:
            log("association ended:", type(e).__name__, e)
            try:
                association.abort(0, 0)  # A-ABORT, so the peer is not left waiting
            except Exception:
                pass


if __name__ == "__main__":
    main()
