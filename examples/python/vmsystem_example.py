#!/usr/bin/env python3
"""A vmsystem client in Python, on stubs generated from proto/ (see generate.sh).

    /usr/bin/python3 examples/python/vmsystem_example.py [--token T] [--worktree DIR] HOST:PORT

It checks the server's health, creates a template and a session (worktree: a
fresh temp dir unless --worktree is given; the server must be able to see it,
so run this on the server's machine or point --worktree at a shared path),
runs REPL code whose state carries across calls (`var x = 41`, then `x + 1`
-> 42), follows a StreamExecution (events asked for in batches, max_batch)
printing each update, and each event of a batch, as it arrives, shows
that a JavaScript throw is an execution ERROR (not an RPC error), provokes an
RPC error (GetSession of an unknown id) and reads its google.rpc.ErrorInfo
from the `grpc-status-details-bin` trailing metadata, and closes the session.

Output: one JSON object per line, {"step": ..., ...}; messages are printed as
protojson (lowerCamel field names, as grpcurl prints them). Exit code 0 when
every step behaved as described, 1 otherwise (the last line then has
"step": "failed").

Needs grpcio and protobuf (Debian: python3-grpcio python3-protobuf; pip:
grpcio protobuf). Nothing else: the stubs are in gen/.
"""

import argparse
import json
import os
import sys
import tempfile

# Keep gen/ free of __pycache__ (it is compared with a fresh generation in CI).
sys.dont_write_bytecode = True
GEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gen")
sys.path.insert(0, GEN)

import grpc  # noqa: E402
from google.protobuf import json_format  # noqa: E402

# The health stubs live in the package `grpc.health.v1` (the proto package),
# but `grpc` is grpcio's own regular package, so Python never looks for
# `grpc.health` in gen/. Extend grpcio's package path with gen/grpc.
grpc.__path__.append(os.path.join(GEN, "grpc"))

from google.rpc import error_details_pb2, status_pb2  # noqa: E402
from grpc.health.v1 import health_pb2, health_pb2_grpc  # noqa: E402
from vmsystem.v1 import (  # noqa: E402
    execution_pb2,
    execution_pb2_grpc,
    session_pb2,
    session_pb2_grpc,
    template_pb2,
    template_pb2_grpc,
)

# Per-call deadline: long enough for a session start on a busy machine.
DEADLINE_S = 30
# The most events a streamed response may carry (the server caps it at 1,000).
MAX_BATCH = 1000


def events_of(update):
    """The events one StreamExecutionResponse carries: a batch (`events`,
    asked for with max_batch) or a single `event` (max_batch 0, or a server
    that predates batches)."""
    if update.WhichOneof("update") == "events":
        return list(update.events.events)
    return [update.event]


def emit(step, **fields):
    """Prints one JSON line at once (flush), so a reader sees it as it happens."""
    print(json.dumps({"step": step, **fields}), flush=True)


def as_json(message):
    """A message as protojson (lowerCamel), the way grpcurl and buf curl print it."""
    return json_format.MessageToDict(message)


def error_info(err):
    """The google.rpc.ErrorInfo of a failed call, decoded from the
    `grpc-status-details-bin` trailing metadata (a serialized google.rpc.Status)."""
    for key, value in err.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                info = error_details_pb2.ErrorInfo()
                if detail.Unpack(info):
                    return status, info
    return None, None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("server", help="HOST:PORT of a vmsystem server")
    parser.add_argument("--token", default=os.environ.get("VMSYSTEM_AUTH_TOKEN"), help="bearer token (if the server wants one)")
    parser.add_argument("--worktree", help="an existing directory for the session (default: a new temp dir)")
    args = parser.parse_args()

    metadata = [("authorization", "Bearer " + args.token)] if args.token else None
    with grpc.insecure_channel(args.server) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        templates = template_pb2_grpc.TemplateServiceStub(channel)
        sessions = session_pb2_grpc.SessionServiceStub(channel)
        executions = execution_pb2_grpc.ExecutionServiceStub(channel)

        # 1. Health (open even when auth is on).
        serving = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=DEADLINE_S)
        emit("health", status=health_pb2.HealthCheckResponse.ServingStatus.Name(serving.status))

        # 2. A template with a tighter CPU limit than the default; omitted
        #    settings take the server's defaults.
        template = templates.CreateTemplate(
            template_pb2.CreateTemplateRequest(
                name="python-example",
                settings=template_pb2.TemplateSettings(limits=template_pb2.Limits(cpu_ms=2000)),
            ),
            timeout=DEADLINE_S,
            metadata=metadata,
        )
        emit("template", id=template.id, name=template.name, engine=template.engine, limits=as_json(template.settings.limits))

        # 3. A session: one live isolate, state kept across executions.
        own_worktree = None if args.worktree else tempfile.TemporaryDirectory(prefix="vmsystem-example-")
        worktree = args.worktree or own_worktree.name
        session = sessions.CreateSession(
            session_pb2.CreateSessionRequest(
                template_id=template.id,
                workspace_id="python-example",
                base_commit_oid="HEAD",
                worktree_path=os.path.abspath(worktree),
            ),
            timeout=DEADLINE_S,
            metadata=metadata,
        )
        emit("session", id=session.id, status=session_pb2.SessionStatus.Name(session.status))

        # 4. REPL: a declaration, then an expression that uses it.
        for code in ("var x = 41", "x + 1"):
            run = executions.ExecuteRepl(
                execution_pb2.ExecuteReplRequest(session_id=session.id, input=code),
                timeout=DEADLINE_S,
                metadata=metadata,
            )
            emit(
                "repl",
                input=code,
                number=run.number,
                status=execution_pb2.ExecutionStatus.Name(run.status),
                result=as_json(run.result),
            )

        # 5. StreamExecution: `started` (RUNNING, with the id), each event as
        #    the code produces it, then `finished`. The snippet awaits between
        #    console lines, so the events arrive while it is still running.
        #    max_batch asks for events in batches (`events`, an EventBatch):
        #    whatever is waiting when the stream can take a message, so a
        #    flood takes far fewer messages and a lone event is not delayed.
        #    A server older than batches ignores it and sends `event`s.
        snippet = "for (let i = 1; i <= 3; i++) { console.log('tick', i); await new Promise((r) => setTimeout(r, 20)); }\nx * 2"
        stream = executions.StreamExecution(
            execution_pb2.StreamExecutionRequest(
                session_id=session.id,
                repl=execution_pb2.ReplInput(input=snippet),
                max_batch=MAX_BATCH,
            ),
            timeout=DEADLINE_S,
            metadata=metadata,
        )
        for update in stream:
            kind = update.WhichOneof("update")
            if kind in ("event", "events"):
                for event in events_of(update):
                    emit("stream", update="event", event=as_json(event))
            else:  # started or finished: an Execution
                execution = getattr(update, kind)
                extra = {"result": as_json(execution.result)} if kind == "finished" else {}
                emit("stream", update=kind, executionId=execution.id, status=execution_pb2.ExecutionStatus.Name(execution.status), **extra)

        # 6. A JavaScript exception is not an RPC error: the call succeeds and
        #    the execution ends ERROR, with an EXCEPTION event.
        thrown = executions.ExecuteRepl(
            execution_pb2.ExecuteReplRequest(session_id=session.id, input="throw new TypeError('bad input')"),
            timeout=DEADLINE_S,
            metadata=metadata,
        )
        exception = next((e.exception for e in thrown.events if e.WhichOneof("payload") == "exception"), None)
        emit(
            "exception",
            status=execution_pb2.ExecutionStatus.Name(thrown.status),
            errorCode=thrown.error.code,
            name=exception.name if exception else None,
            message=exception.message if exception else None,
        )

        # 7. An RPC error: every vmsystem error carries a google.rpc.Status
        #    with an ErrorInfo{reason, domain, metadata} in the trailers.
        try:
            sessions.GetSession(
                session_pb2.GetSessionRequest(session_id="00000000-0000-0000-0000-000000000000"),
                timeout=DEADLINE_S,
                metadata=metadata,
            )
            emit("failed", reason="GetSession of an unknown id succeeded")
            return 1
        except grpc.RpcError as err:
            status, info = error_info(err)
            emit(
                "error",
                code=err.code().name,
                message=err.details(),
                statusCode=status.code if status else None,
                reason=info.reason if info else None,
                domain=info.domain if info else None,
                metadata=dict(info.metadata) if info else None,
            )

        # 8. Close the session: its isolate is disposed.
        closed = sessions.CloseSession(session_pb2.CloseSessionRequest(session_id=session.id), timeout=DEADLINE_S, metadata=metadata)
        emit("close", id=closed.id, status=session_pb2.SessionStatus.Name(closed.status))
        if own_worktree:
            own_worktree.cleanup()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except grpc.RpcError as err:
        # Any unexpected RPC failure: say which, with its ErrorInfo reason if any.
        _, info = error_info(err)
        emit("failed", code=err.code().name, message=err.details(), reason=info.reason if info else None)
        sys.exit(1)
