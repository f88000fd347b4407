"""LiveKit's official Python server SDK (PyPI `livekit-api`), as the other side of
the engine's LiveKit tests (tests/livekit_server_api.rs):

  mint          a token minted by the official SDK (stdout: the JWT)
  verify        the official SDK's verdict on a token (stdout: its claims as JSON)
  sign-webhook  a webhook body and its Authorization header, signed the way the
                LiveKit server signs them (stdout: JSON {body, authorization})
  twirp-server  a RoomService on 127.0.0.1 that decodes requests with LiveKit's
                own protobuf types and checks each request's token and grants
                with the official TokenVerifier; special room names inject faults.
                First stdout line: "listening PORT"; then one JSON line per request.

The real LiveKit server cannot run here (no registry ships it); this fake keeps to
its wire format: POST /twirp/livekit.RoomService/<Method>, application/protobuf
bodies, Twirp JSON errors.
"""

import argparse
import base64
import datetime
import hashlib
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf.json_format import MessageToJson
from livekit import api
from livekit.protocol import models as pm
from livekit.protocol import room as pr
from livekit.protocol import webhook as pw


def cmd_mint(a):
    grants = api.VideoGrants(room_join=True, room=a.room)
    tok = (
        api.AccessToken(a.key, a.secret)
        .with_identity(a.identity)
        .with_grants(grants)
        .with_ttl(datetime.timedelta(seconds=a.ttl_seconds))
    )
    if a.name:
        tok = tok.with_name(a.name)
    print(tok.to_jwt())


def cmd_verify(a):
    try:
        claims = api.TokenVerifier(a.key, a.secret).verify(a.token)
    except Exception as e:  # the SDK raises jwt's errors
        print(json.dumps({"ok": False, "error": type(e).__name__, "message": str(e)}))
        return
    v = claims.video
    print(
        json.dumps(
            {
                "ok": True,
                "identity": claims.identity,
                "name": claims.name,
                "kind": claims.kind,
                "video": {
                    "room": v.room,
                    "room_join": v.room_join,
                    "room_admin": v.room_admin,
                    "room_create": v.room_create,
                    "room_list": v.room_list,
                    "can_publish": v.can_publish,
                    "can_subscribe": v.can_subscribe,
                    "can_publish_data": v.can_publish_data,
                    "can_publish_sources": v.can_publish_sources,
                    "hidden": v.hidden,
                    "agent": v.agent,
                },
            },
            ensure_ascii=False,
        )
    )


def cmd_sign_webhook(a):
    ev = pw.WebhookEvent(event=a.event, id=a.id, created_at=int(time.time()))
    if a.room:
        ev.room.CopyFrom(pm.Room(name=a.room, sid="RM_" + a.room.encode().hex()[:12]))
    if a.participant:
        kind = {
            "standard": pm.ParticipantInfo.Kind.STANDARD,
            "sip": pm.ParticipantInfo.Kind.SIP,
            "agent": pm.ParticipantInfo.Kind.AGENT,
        }[a.participant_kind]
        p = pm.ParticipantInfo(
            identity=a.participant,
            sid="PA_1",
            kind=kind,
            state=pm.ParticipantInfo.State.ACTIVE,
        )
        p.permission.hidden = a.hidden
        ev.participant.CopyFrom(p)
    body = a.raw_body if a.raw_body is not None else MessageToJson(ev, ensure_ascii=False)
    digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
    token = (
        api.AccessToken(a.key, a.secret)
        .with_sha256(digest)
        .with_ttl(datetime.timedelta(seconds=a.ttl_seconds))
        .to_jwt()
    )
    print(json.dumps({"body": body, "authorization": token}, ensure_ascii=False))


# --- the RoomService ---------------------------------------------------------

METHODS = {
    "CreateRoom": (pr.CreateRoomRequest, "room_create"),
    "ListRooms": (pr.ListRoomsRequest, "room_list"),
    "DeleteRoom": (pr.DeleteRoomRequest, "room_create"),
    "ListParticipants": (pr.ListParticipantsRequest, "room_admin"),
    "RemoveParticipant": (pr.RoomParticipantIdentity, "room_admin"),
    "MutePublishedTrack": (pr.MuteRoomTrackRequest, "room_admin"),
    "UpdateParticipant": (pr.UpdateParticipantRequest, "room_admin"),
}


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.rooms = {}  # name -> (Room, {identity: ParticipantInfo})


def make_handler(key, secret, state):
    verifier = api.TokenVerifier(key, secret)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def twirp_error(self, status, code, msg):
            body = json.dumps({"code": code, "msg": msg}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def reply(self, msg, content_type="application/protobuf", raw=None, status=200):
            body = raw if raw is not None else msg.SerializeToString()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(n)
            prefix = "/twirp/livekit.RoomService/"
            if not self.path.startswith(prefix):
                return self.twirp_error(404, "bad_route", "no such path " + self.path)
            method = self.path[len(prefix):]
            if method not in METHODS:
                return self.twirp_error(404, "bad_route", "no such method " + method)
            if self.headers.get("Content-Type") != "application/protobuf":
                return self.twirp_error(400, "malformed", "content type " + str(self.headers.get("Content-Type")))
            req_type, grant = METHODS[method]
            req = req_type()
            try:
                req.ParseFromString(raw)
            except Exception as e:
                return self.twirp_error(400, "malformed", "undecodable request: %s" % e)
            auth = self.headers.get("Authorization", "")
            if not auth.startswith("Bearer "):
                return self.twirp_error(401, "unauthenticated", "no bearer token")
            try:
                claims = verifier.verify(auth[len("Bearer "):])
            except Exception as e:
                return self.twirp_error(401, "unauthenticated", "invalid token: %s" % e)
            v = claims.video
            room = getattr(req, "room", "") or getattr(req, "name", "")
            granted = bool(getattr(v, grant))
            if grant == "room_admin" and v.room != room:
                granted = False
            print(
                json.dumps(
                    {
                        "method": method,
                        "grant": grant,
                        "granted": granted,
                        "token_room": v.room,
                        "request": json.loads(MessageToJson(req, preserving_proto_field_name=True)),
                    },
                    ensure_ascii=False,
                ),
                flush=True,
            )
            if not granted:
                return self.twirp_error(403, "permission_denied", "token lacks " + grant)
            # Faults, by room name.
            if room == "slow-room":
                time.sleep(3)
            if room == "garbage-room":
                return self.reply(None, raw=b"\xff\xff\xff\xff\x0f\x0a\x99")
            if room == "html-room":
                return self.reply(None, "text/html", b"<html><body>Sign in to the Wi-Fi</body></html>")
            if room == "boom-room":
                return self.twirp_error(500, "internal", "database is down")
            if room == "proxy-room":
                return self.reply(None, "text/html", b"<html><body><h1>502 Bad Gateway</h1></body></html>", 502)
            with state.lock:
                return getattr(self, "m_" + method)(req)

        def m_CreateRoom(self, req):
            if req.name not in state.rooms:
                r = pm.Room(
                    name=req.name,
                    sid="RM_%d" % (len(state.rooms) + 1),
                    empty_timeout=req.empty_timeout,
                    departure_timeout=req.departure_timeout,
                    max_participants=req.max_participants,
                    metadata=req.metadata,
                    creation_time=int(time.time()),
                    creation_time_ms=int(time.time() * 1000),
                )
                people = {}
                # Every room the fake creates has a customer on a phone line,
                # publishing a microphone track.
                c = pm.ParticipantInfo(
                    sid="PA_c", identity="+971501234567", name="عميل", kind=pm.ParticipantInfo.Kind.SIP,
                    state=pm.ParticipantInfo.State.ACTIVE, joined_at=int(time.time()),
                )
                c.permission.can_publish = True
                c.permission.can_subscribe = True
                c.tracks.append(pm.TrackInfo(sid="TR_mic", type=pm.TrackType.AUDIO, source=pm.TrackSource.MICROPHONE, name="mic"))
                people[c.identity] = c
                s = pm.ParticipantInfo(sid="PA_s", identity="supervisor-1", kind=pm.ParticipantInfo.Kind.STANDARD, state=pm.ParticipantInfo.State.ACTIVE)
                s.permission.can_subscribe = True
                s.permission.hidden = True
                people[s.identity] = s
                state.rooms[req.name] = (r, people)
            r, people = state.rooms[req.name]
            r.num_participants = len(people)
            self.reply(r)

        def m_ListRooms(self, req):
            out = pr.ListRoomsResponse()
            for name, (r, people) in sorted(state.rooms.items()):
                if req.names and name not in req.names:
                    continue
                r.num_participants = len(people)
                out.rooms.append(r)
            self.reply(out)

        def m_DeleteRoom(self, req):
            if req.room not in state.rooms:
                return self.twirp_error(404, "not_found", "room %s does not exist" % req.room)
            del state.rooms[req.room]
            self.reply(pr.DeleteRoomResponse())

        def people(self, room):
            if room not in state.rooms:
                self.twirp_error(404, "not_found", "room %s does not exist" % room)
                return None
            return state.rooms[room][1]

        def m_ListParticipants(self, req):
            people = self.people(req.room)
            if people is None:
                return
            self.reply(pr.ListParticipantsResponse(participants=list(people.values())))

        def m_RemoveParticipant(self, req):
            people = self.people(req.room)
            if people is None:
                return
            if req.identity not in people:
                return self.twirp_error(404, "not_found", "participant not found")
            del people[req.identity]
            self.reply(pr.RemoveParticipantResponse())

        def m_MutePublishedTrack(self, req):
            people = self.people(req.room)
            if people is None:
                return
            p = people.get(req.identity)
            if p is None:
                return self.twirp_error(404, "not_found", "participant not found")
            if req.track_sid == "TR_vanishing":
                # An answer without the track (LiveKit's Rust RoomClient unwraps it).
                return self.reply(pr.MuteRoomTrackResponse())
            for t in p.tracks:
                if t.sid == req.track_sid:
                    t.muted = req.muted
                    return self.reply(pr.MuteRoomTrackResponse(track=t))
            return self.twirp_error(404, "not_found", "track not found")

        def m_UpdateParticipant(self, req):
            people = self.people(req.room)
            if people is None:
                return
            p = people.get(req.identity)
            if p is None:
                return self.twirp_error(404, "not_found", "participant not found")
            if req.HasField("permission"):
                p.permission.CopyFrom(req.permission)
            self.reply(p)

    return Handler


def cmd_twirp_server(a):
    state = State()
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), make_handler(a.key, a.secret, state))
    srv.daemon_threads = True
    print("listening %d" % srv.server_address[1], flush=True)
    # Ends when the test closes our stdin (or dies).
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    sys.stdin.read()
    srv.shutdown()


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("mint", "verify", "sign-webhook", "twirp-server"):
        s = sub.add_parser(name)
        s.add_argument("--key", required=True)
        s.add_argument("--secret", required=True)
        if name == "mint":
            s.add_argument("--room", required=True)
            s.add_argument("--identity", required=True)
            s.add_argument("--name", default="")
            s.add_argument("--ttl-seconds", type=int, default=600)
        if name == "verify":
            s.add_argument("--token", required=True)
        if name == "sign-webhook":
            s.add_argument("--event", required=True)
            s.add_argument("--id", default="EV_1")
            s.add_argument("--room", default="")
            s.add_argument("--participant", default="")
            s.add_argument("--participant-kind", default="standard")
            s.add_argument("--hidden", action="store_true")
            s.add_argument("--raw-body", default=None, help="sign this body instead of an event")
            s.add_argument("--ttl-seconds", type=int, default=300)
        if name == "twirp-server":
            s.add_argument("--port", type=int, default=0)
    a = p.parse_args()
    {
        "mint": cmd_mint,
        "verify": cmd_verify,
        "sign-webhook": cmd_sign_webhook,
        "twirp-server": cmd_twirp_server,
    }[a.cmd](a)


if __name__ == "__main__":
    main()
