from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
EVENT_TYPE_CONSOLE: EventType
EVENT_TYPE_EXCEPTION: EventType
EVENT_TYPE_INPUT_ECHO: EventType
EVENT_TYPE_SYSTEM: EventType
EVENT_TYPE_UNSPECIFIED: EventType
EVENT_TYPE_VALUE: EventType
EXECUTION_KIND_REPL: ExecutionKind
EXECUTION_KIND_RUN_FILE: ExecutionKind
EXECUTION_KIND_STARTUP: ExecutionKind
EXECUTION_KIND_UNSPECIFIED: ExecutionKind
EXECUTION_STATUS_CANCELLED: ExecutionStatus
EXECUTION_STATUS_ERROR: ExecutionStatus
EXECUTION_STATUS_OK: ExecutionStatus
EXECUTION_STATUS_RUNNING: ExecutionStatus
EXECUTION_STATUS_TIMEOUT: ExecutionStatus
EXECUTION_STATUS_UNSPECIFIED: ExecutionStatus

class CancelExecutionRequest(_message.Message):
    __slots__ = ["execution_id"]
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    def __init__(self, execution_id: _Optional[str] = ...) -> None: ...

class Console(_message.Message):
    __slots__ = ["level", "text"]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    level: str
    text: str
    def __init__(self, level: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class EventBatch(_message.Message):
    __slots__ = ["events"]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[ExecutionEvent]
    def __init__(self, events: _Optional[_Iterable[_Union[ExecutionEvent, _Mapping]]] = ...) -> None: ...

class Exception(_message.Message):
    __slots__ = ["message", "name", "stack"]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STACK_FIELD_NUMBER: _ClassVar[int]
    message: str
    name: str
    stack: str
    def __init__(self, name: _Optional[str] = ..., message: _Optional[str] = ..., stack: _Optional[str] = ...) -> None: ...

class ExecuteReplRequest(_message.Message):
    __slots__ = ["input", "request_id", "session_id"]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    input: str
    request_id: str
    session_id: str
    def __init__(self, session_id: _Optional[str] = ..., input: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class ExecuteRunFileRequest(_message.Message):
    __slots__ = ["args", "env", "path", "request_id", "session_id"]
    class EnvEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ARGS_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    args: _containers.RepeatedScalarFieldContainer[str]
    env: _containers.ScalarMap[str, str]
    path: str
    request_id: str
    session_id: str
    def __init__(self, session_id: _Optional[str] = ..., path: _Optional[str] = ..., args: _Optional[_Iterable[str]] = ..., env: _Optional[_Mapping[str, str]] = ..., request_id: _Optional[str] = ...) -> None: ...

class Execution(_message.Message):
    __slots__ = ["args", "ended_at", "env", "error", "events", "id", "input", "kind", "metrics", "number", "path", "request_id", "result", "session_id", "started_at", "status"]
    class EnvEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ARGS_FIELD_NUMBER: _ClassVar[int]
    ENDED_AT_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    args: _containers.RepeatedScalarFieldContainer[str]
    ended_at: _timestamp_pb2.Timestamp
    env: _containers.ScalarMap[str, str]
    error: ExecutionError
    events: _containers.RepeatedCompositeFieldContainer[ExecutionEvent]
    id: str
    input: str
    kind: ExecutionKind
    metrics: ExecutionMetrics
    number: int
    path: str
    request_id: str
    result: Value
    session_id: str
    started_at: _timestamp_pb2.Timestamp
    status: ExecutionStatus
    def __init__(self, id: _Optional[str] = ..., number: _Optional[int] = ..., session_id: _Optional[str] = ..., kind: _Optional[_Union[ExecutionKind, str]] = ..., input: _Optional[str] = ..., path: _Optional[str] = ..., args: _Optional[_Iterable[str]] = ..., env: _Optional[_Mapping[str, str]] = ..., status: _Optional[_Union[ExecutionStatus, str]] = ..., started_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., ended_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., result: _Optional[_Union[Value, _Mapping]] = ..., error: _Optional[_Union[ExecutionError, _Mapping]] = ..., metrics: _Optional[_Union[ExecutionMetrics, _Mapping]] = ..., events: _Optional[_Iterable[_Union[ExecutionEvent, _Mapping]]] = ..., request_id: _Optional[str] = ...) -> None: ...

class ExecutionError(_message.Message):
    __slots__ = ["code", "message"]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class ExecutionEvent(_message.Message):
    __slots__ = ["console", "exception", "execution_id", "input_echo", "seq", "system", "ts", "type", "value"]
    CONSOLE_FIELD_NUMBER: _ClassVar[int]
    EXCEPTION_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    INPUT_ECHO_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_FIELD_NUMBER: _ClassVar[int]
    TS_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    console: Console
    exception: Exception
    execution_id: str
    input_echo: InputEcho
    seq: int
    system: System
    ts: _timestamp_pb2.Timestamp
    type: EventType
    value: Value
    def __init__(self, execution_id: _Optional[str] = ..., seq: _Optional[int] = ..., ts: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., type: _Optional[_Union[EventType, str]] = ..., input_echo: _Optional[_Union[InputEcho, _Mapping]] = ..., console: _Optional[_Union[Console, _Mapping]] = ..., value: _Optional[_Union[Value, _Mapping]] = ..., exception: _Optional[_Union[Exception, _Mapping]] = ..., system: _Optional[_Union[System, _Mapping]] = ...) -> None: ...

class ExecutionMetrics(_message.Message):
    __slots__ = ["cpu_ms", "duration_ms", "event_count", "output_bytes"]
    CPU_MS_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    EVENT_COUNT_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_BYTES_FIELD_NUMBER: _ClassVar[int]
    cpu_ms: int
    duration_ms: int
    event_count: int
    output_bytes: int
    def __init__(self, duration_ms: _Optional[int] = ..., cpu_ms: _Optional[int] = ..., event_count: _Optional[int] = ..., output_bytes: _Optional[int] = ...) -> None: ...

class GetExecutionRequest(_message.Message):
    __slots__ = ["execution_id"]
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    def __init__(self, execution_id: _Optional[str] = ...) -> None: ...

class InputEcho(_message.Message):
    __slots__ = ["text"]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    text: str
    def __init__(self, text: _Optional[str] = ...) -> None: ...

class ListEventsRequest(_message.Message):
    __slots__ = ["after_seq", "execution_id", "limit"]
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    after_seq: int
    execution_id: str
    limit: int
    def __init__(self, execution_id: _Optional[str] = ..., after_seq: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class ListEventsResponse(_message.Message):
    __slots__ = ["events"]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[ExecutionEvent]
    def __init__(self, events: _Optional[_Iterable[_Union[ExecutionEvent, _Mapping]]] = ...) -> None: ...

class ListExecutionsRequest(_message.Message):
    __slots__ = ["page_size", "page_token", "session_id"]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    session_id: str
    def __init__(self, session_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListExecutionsResponse(_message.Message):
    __slots__ = ["executions", "next_page_token"]
    EXECUTIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    executions: _containers.RepeatedCompositeFieldContainer[Execution]
    next_page_token: str
    def __init__(self, executions: _Optional[_Iterable[_Union[Execution, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ReplInput(_message.Message):
    __slots__ = ["input"]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    input: str
    def __init__(self, input: _Optional[str] = ...) -> None: ...

class RunFileInput(_message.Message):
    __slots__ = ["args", "env", "path"]
    class EnvEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ARGS_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    args: _containers.RepeatedScalarFieldContainer[str]
    env: _containers.ScalarMap[str, str]
    path: str
    def __init__(self, path: _Optional[str] = ..., args: _Optional[_Iterable[str]] = ..., env: _Optional[_Mapping[str, str]] = ...) -> None: ...

class StreamExecutionRequest(_message.Message):
    __slots__ = ["max_batch", "repl", "request_id", "run_file", "session_id"]
    MAX_BATCH_FIELD_NUMBER: _ClassVar[int]
    REPL_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_FILE_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    max_batch: int
    repl: ReplInput
    request_id: str
    run_file: RunFileInput
    session_id: str
    def __init__(self, session_id: _Optional[str] = ..., repl: _Optional[_Union[ReplInput, _Mapping]] = ..., run_file: _Optional[_Union[RunFileInput, _Mapping]] = ..., request_id: _Optional[str] = ..., max_batch: _Optional[int] = ...) -> None: ...

class StreamExecutionResponse(_message.Message):
    __slots__ = ["event", "events", "finished", "started"]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_FIELD_NUMBER: _ClassVar[int]
    STARTED_FIELD_NUMBER: _ClassVar[int]
    event: ExecutionEvent
    events: EventBatch
    finished: Execution
    started: Execution
    def __init__(self, started: _Optional[_Union[Execution, _Mapping]] = ..., event: _Optional[_Union[ExecutionEvent, _Mapping]] = ..., finished: _Optional[_Union[Execution, _Mapping]] = ..., events: _Optional[_Union[EventBatch, _Mapping]] = ...) -> None: ...

class System(_message.Message):
    __slots__ = ["level", "message"]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    level: str
    message: str
    def __init__(self, level: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class TailEventsRequest(_message.Message):
    __slots__ = ["after_seq", "execution_id", "follow", "max_batch"]
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_FIELD_NUMBER: _ClassVar[int]
    MAX_BATCH_FIELD_NUMBER: _ClassVar[int]
    after_seq: int
    execution_id: str
    follow: bool
    max_batch: int
    def __init__(self, execution_id: _Optional[str] = ..., after_seq: _Optional[int] = ..., follow: bool = ..., max_batch: _Optional[int] = ...) -> None: ...

class TailEventsResponse(_message.Message):
    __slots__ = ["event", "events"]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: ExecutionEvent
    events: _containers.RepeatedCompositeFieldContainer[ExecutionEvent]
    def __init__(self, event: _Optional[_Union[ExecutionEvent, _Mapping]] = ..., events: _Optional[_Iterable[_Union[ExecutionEvent, _Mapping]]] = ...) -> None: ...

class Value(_message.Message):
    __slots__ = ["json", "preview", "type"]
    JSON_FIELD_NUMBER: _ClassVar[int]
    PREVIEW_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    json: _struct_pb2.Value
    preview: str
    type: str
    def __init__(self, type: _Optional[str] = ..., preview: _Optional[str] = ..., json: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...

class WatchSessionRequest(_message.Message):
    __slots__ = ["max_batch", "session_id"]
    MAX_BATCH_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    max_batch: int
    session_id: str
    def __init__(self, session_id: _Optional[str] = ..., max_batch: _Optional[int] = ...) -> None: ...

class WatchSessionResponse(_message.Message):
    __slots__ = ["event", "events"]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: ExecutionEvent
    events: _containers.RepeatedCompositeFieldContainer[ExecutionEvent]
    def __init__(self, event: _Optional[_Union[ExecutionEvent, _Mapping]] = ..., events: _Optional[_Iterable[_Union[ExecutionEvent, _Mapping]]] = ...) -> None: ...

class ExecutionKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class ExecutionStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class EventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
