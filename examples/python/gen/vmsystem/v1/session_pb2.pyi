from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
SESSION_STATUS_CLOSED: SessionStatus
SESSION_STATUS_CRASHED: SessionStatus
SESSION_STATUS_READY: SessionStatus
SESSION_STATUS_RESTORING: SessionStatus
SESSION_STATUS_STARTING: SessionStatus
SESSION_STATUS_UNSPECIFIED: SessionStatus

class CloseSessionRequest(_message.Message):
    __slots__ = ["session_id"]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class CreateSessionRequest(_message.Message):
    __slots__ = ["base_commit_oid", "template_id", "workspace_id", "worktree_path"]
    BASE_COMMIT_OID_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_ID_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    WORKTREE_PATH_FIELD_NUMBER: _ClassVar[int]
    base_commit_oid: str
    template_id: str
    workspace_id: str
    worktree_path: str
    def __init__(self, template_id: _Optional[str] = ..., workspace_id: _Optional[str] = ..., base_commit_oid: _Optional[str] = ..., worktree_path: _Optional[str] = ...) -> None: ...

class ForkSessionRequest(_message.Message):
    __slots__ = ["at_execution_number", "session_id", "worktree_path"]
    AT_EXECUTION_NUMBER_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    WORKTREE_PATH_FIELD_NUMBER: _ClassVar[int]
    at_execution_number: int
    session_id: str
    worktree_path: str
    def __init__(self, session_id: _Optional[str] = ..., at_execution_number: _Optional[int] = ..., worktree_path: _Optional[str] = ...) -> None: ...

class GetRuntimeSummaryRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class GetRuntimeSummaryResponse(_message.Message):
    __slots__ = ["live_session_count", "sessions"]
    LIVE_SESSION_COUNT_FIELD_NUMBER: _ClassVar[int]
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    live_session_count: int
    sessions: _containers.RepeatedCompositeFieldContainer[RuntimeSessionSummary]
    def __init__(self, live_session_count: _Optional[int] = ..., sessions: _Optional[_Iterable[_Union[RuntimeSessionSummary, _Mapping]]] = ...) -> None: ...

class GetSessionRequest(_message.Message):
    __slots__ = ["session_id"]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class ListSessionsRequest(_message.Message):
    __slots__ = ["page_size", "page_token", "status"]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    status: SessionStatus
    def __init__(self, status: _Optional[_Union[SessionStatus, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListSessionsResponse(_message.Message):
    __slots__ = ["next_page_token", "sessions"]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    next_page_token: str
    sessions: _containers.RepeatedCompositeFieldContainer[Session]
    def __init__(self, sessions: _Optional[_Iterable[_Union[Session, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RuntimeSessionSummary(_message.Message):
    __slots__ = ["executions_run", "heap_used_bytes", "restart_count", "session_id", "status"]
    EXECUTIONS_RUN_FIELD_NUMBER: _ClassVar[int]
    HEAP_USED_BYTES_FIELD_NUMBER: _ClassVar[int]
    RESTART_COUNT_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    executions_run: int
    heap_used_bytes: int
    restart_count: int
    session_id: str
    status: SessionStatus
    def __init__(self, session_id: _Optional[str] = ..., status: _Optional[_Union[SessionStatus, str]] = ..., heap_used_bytes: _Optional[int] = ..., executions_run: _Optional[int] = ..., restart_count: _Optional[int] = ...) -> None: ...

class Session(_message.Message):
    __slots__ = ["base_commit_oid", "closed_at", "created_at", "forked_from_execution_number", "forked_from_session_id", "id", "last_activity_at", "last_error", "restart_count", "restore_count", "status", "template_id", "workspace_id", "worktree_path"]
    BASE_COMMIT_OID_FIELD_NUMBER: _ClassVar[int]
    CLOSED_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    FORKED_FROM_EXECUTION_NUMBER_FIELD_NUMBER: _ClassVar[int]
    FORKED_FROM_SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    LAST_ACTIVITY_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    RESTART_COUNT_FIELD_NUMBER: _ClassVar[int]
    RESTORE_COUNT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_ID_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    WORKTREE_PATH_FIELD_NUMBER: _ClassVar[int]
    base_commit_oid: str
    closed_at: _timestamp_pb2.Timestamp
    created_at: _timestamp_pb2.Timestamp
    forked_from_execution_number: int
    forked_from_session_id: str
    id: str
    last_activity_at: _timestamp_pb2.Timestamp
    last_error: str
    restart_count: int
    restore_count: int
    status: SessionStatus
    template_id: str
    workspace_id: str
    worktree_path: str
    def __init__(self, id: _Optional[str] = ..., template_id: _Optional[str] = ..., workspace_id: _Optional[str] = ..., base_commit_oid: _Optional[str] = ..., worktree_path: _Optional[str] = ..., status: _Optional[_Union[SessionStatus, str]] = ..., last_error: _Optional[str] = ..., restart_count: _Optional[int] = ..., created_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., closed_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., last_activity_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., restore_count: _Optional[int] = ..., forked_from_session_id: _Optional[str] = ..., forked_from_execution_number: _Optional[int] = ...) -> None: ...

class SessionStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
