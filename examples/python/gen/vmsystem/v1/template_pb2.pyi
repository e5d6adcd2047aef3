from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AddCapabilityRequest(_message.Message):
    __slots__ = ["config", "enabled", "kind", "name", "template_id"]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_ID_FIELD_NUMBER: _ClassVar[int]
    config: _struct_pb2.Struct
    enabled: bool
    kind: str
    name: str
    template_id: str
    def __init__(self, template_id: _Optional[str] = ..., kind: _Optional[str] = ..., name: _Optional[str] = ..., enabled: bool = ..., config: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class AddLibraryRequest(_message.Message):
    __slots__ = ["name", "template_id"]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    template_id: str
    def __init__(self, template_id: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class AddModuleRequest(_message.Message):
    __slots__ = ["name", "template_id"]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    template_id: str
    def __init__(self, template_id: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class AddStartupFileRequest(_message.Message):
    __slots__ = ["mode", "order_index", "path", "template_id"]
    MODE_FIELD_NUMBER: _ClassVar[int]
    ORDER_INDEX_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_ID_FIELD_NUMBER: _ClassVar[int]
    mode: str
    order_index: int
    path: str
    template_id: str
    def __init__(self, template_id: _Optional[str] = ..., path: _Optional[str] = ..., order_index: _Optional[int] = ..., mode: _Optional[str] = ...) -> None: ...

class AvailableLibrary(_message.Message):
    __slots__ = ["description", "global_name", "name", "version"]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    GLOBAL_NAME_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    description: str
    global_name: str
    name: str
    version: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., global_name: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class AvailableModule(_message.Message):
    __slots__ = ["description", "name"]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    description: str
    name: str
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class Capability(_message.Message):
    __slots__ = ["config", "created_at", "enabled", "id", "kind", "name", "template_id"]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_ID_FIELD_NUMBER: _ClassVar[int]
    config: _struct_pb2.Struct
    created_at: _timestamp_pb2.Timestamp
    enabled: bool
    id: str
    kind: str
    name: str
    template_id: str
    def __init__(self, id: _Optional[str] = ..., template_id: _Optional[str] = ..., kind: _Optional[str] = ..., name: _Optional[str] = ..., enabled: bool = ..., config: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., created_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateTemplateRequest(_message.Message):
    __slots__ = ["engine", "name", "settings"]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    engine: str
    name: str
    settings: TemplateSettings
    def __init__(self, name: _Optional[str] = ..., engine: _Optional[str] = ..., settings: _Optional[_Union[TemplateSettings, _Mapping]] = ...) -> None: ...

class DeleteTemplateRequest(_message.Message):
    __slots__ = ["template_id"]
    TEMPLATE_ID_FIELD_NUMBER: _ClassVar[int]
    template_id: str
    def __init__(self, template_id: _Optional[str] = ...) -> None: ...

class DeleteTemplateResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class GetTemplateRequest(_message.Message):
    __slots__ = ["template_id"]
    TEMPLATE_ID_FIELD_NUMBER: _ClassVar[int]
    template_id: str
    def __init__(self, template_id: _Optional[str] = ...) -> None: ...

class Library(_message.Message):
    __slots__ = ["created_at", "name", "template_id", "version"]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    created_at: _timestamp_pb2.Timestamp
    name: str
    template_id: str
    version: str
    def __init__(self, template_id: _Optional[str] = ..., name: _Optional[str] = ..., version: _Optional[str] = ..., created_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Limits(_message.Message):
    __slots__ = ["cpu_ms", "max_events", "max_output_kb", "mem_mb", "wall_ms"]
    CPU_MS_FIELD_NUMBER: _ClassVar[int]
    MAX_EVENTS_FIELD_NUMBER: _ClassVar[int]
    MAX_OUTPUT_KB_FIELD_NUMBER: _ClassVar[int]
    MEM_MB_FIELD_NUMBER: _ClassVar[int]
    WALL_MS_FIELD_NUMBER: _ClassVar[int]
    cpu_ms: int
    max_events: int
    max_output_kb: int
    mem_mb: int
    wall_ms: int
    def __init__(self, cpu_ms: _Optional[int] = ..., wall_ms: _Optional[int] = ..., mem_mb: _Optional[int] = ..., max_events: _Optional[int] = ..., max_output_kb: _Optional[int] = ...) -> None: ...

class ListAvailableLibrariesRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class ListAvailableLibrariesResponse(_message.Message):
    __slots__ = ["libraries"]
    LIBRARIES_FIELD_NUMBER: _ClassVar[int]
    libraries: _containers.RepeatedCompositeFieldContainer[AvailableLibrary]
    def __init__(self, libraries: _Optional[_Iterable[_Union[AvailableLibrary, _Mapping]]] = ...) -> None: ...

class ListAvailableModulesRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class ListAvailableModulesResponse(_message.Message):
    __slots__ = ["modules"]
    MODULES_FIELD_NUMBER: _ClassVar[int]
    modules: _containers.RepeatedCompositeFieldContainer[AvailableModule]
    def __init__(self, modules: _Optional[_Iterable[_Union[AvailableModule, _Mapping]]] = ...) -> None: ...

class ListCapabilitiesRequest(_message.Message):
    __slots__ = ["template_id"]
    TEMPLATE_ID_FIELD_NUMBER: _ClassVar[int]
    template_id: str
    def __init__(self, template_id: _Optional[str] = ...) -> None: ...

class ListCapabilitiesResponse(_message.Message):
    __slots__ = ["capabilities"]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    capabilities: _containers.RepeatedCompositeFieldContainer[Capability]
    def __init__(self, capabilities: _Optional[_Iterable[_Union[Capability, _Mapping]]] = ...) -> None: ...

class ListLibrariesRequest(_message.Message):
    __slots__ = ["template_id"]
    TEMPLATE_ID_FIELD_NUMBER: _ClassVar[int]
    template_id: str
    def __init__(self, template_id: _Optional[str] = ...) -> None: ...

class ListLibrariesResponse(_message.Message):
    __slots__ = ["libraries"]
    LIBRARIES_FIELD_NUMBER: _ClassVar[int]
    libraries: _containers.RepeatedCompositeFieldContainer[Library]
    def __init__(self, libraries: _Optional[_Iterable[_Union[Library, _Mapping]]] = ...) -> None: ...

class ListModulesRequest(_message.Message):
    __slots__ = ["template_id"]
    TEMPLATE_ID_FIELD_NUMBER: _ClassVar[int]
    template_id: str
    def __init__(self, template_id: _Optional[str] = ...) -> None: ...

class ListModulesResponse(_message.Message):
    __slots__ = ["modules"]
    MODULES_FIELD_NUMBER: _ClassVar[int]
    modules: _containers.RepeatedCompositeFieldContainer[Module]
    def __init__(self, modules: _Optional[_Iterable[_Union[Module, _Mapping]]] = ...) -> None: ...

class ListStartupFilesRequest(_message.Message):
    __slots__ = ["template_id"]
    TEMPLATE_ID_FIELD_NUMBER: _ClassVar[int]
    template_id: str
    def __init__(self, template_id: _Optional[str] = ...) -> None: ...

class ListStartupFilesResponse(_message.Message):
    __slots__ = ["startup_files"]
    STARTUP_FILES_FIELD_NUMBER: _ClassVar[int]
    startup_files: _containers.RepeatedCompositeFieldContainer[StartupFile]
    def __init__(self, startup_files: _Optional[_Iterable[_Union[StartupFile, _Mapping]]] = ...) -> None: ...

class ListTemplatesRequest(_message.Message):
    __slots__ = ["page_size", "page_token"]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListTemplatesResponse(_message.Message):
    __slots__ = ["next_page_token", "templates"]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TEMPLATES_FIELD_NUMBER: _ClassVar[int]
    next_page_token: str
    templates: _containers.RepeatedCompositeFieldContainer[Template]
    def __init__(self, templates: _Optional[_Iterable[_Union[Template, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class Module(_message.Message):
    __slots__ = ["created_at", "name", "template_id"]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_ID_FIELD_NUMBER: _ClassVar[int]
    created_at: _timestamp_pb2.Timestamp
    name: str
    template_id: str
    def __init__(self, template_id: _Optional[str] = ..., name: _Optional[str] = ..., created_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RemoveCapabilityRequest(_message.Message):
    __slots__ = ["capability_id", "template_id"]
    CAPABILITY_ID_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_ID_FIELD_NUMBER: _ClassVar[int]
    capability_id: str
    template_id: str
    def __init__(self, template_id: _Optional[str] = ..., capability_id: _Optional[str] = ...) -> None: ...

class RemoveCapabilityResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class RemoveLibraryRequest(_message.Message):
    __slots__ = ["name", "template_id"]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    template_id: str
    def __init__(self, template_id: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class RemoveLibraryResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class RemoveModuleRequest(_message.Message):
    __slots__ = ["name", "template_id"]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    template_id: str
    def __init__(self, template_id: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class RemoveModuleResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class RemoveStartupFileRequest(_message.Message):
    __slots__ = ["startup_file_id", "template_id"]
    STARTUP_FILE_ID_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_ID_FIELD_NUMBER: _ClassVar[int]
    startup_file_id: str
    template_id: str
    def __init__(self, template_id: _Optional[str] = ..., startup_file_id: _Optional[str] = ...) -> None: ...

class RemoveStartupFileResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class ResolverSettings(_message.Message):
    __slots__ = ["allow_absolute_repo_imports", "extensions", "roots"]
    ALLOW_ABSOLUTE_REPO_IMPORTS_FIELD_NUMBER: _ClassVar[int]
    EXTENSIONS_FIELD_NUMBER: _ClassVar[int]
    ROOTS_FIELD_NUMBER: _ClassVar[int]
    allow_absolute_repo_imports: bool
    extensions: _containers.RepeatedScalarFieldContainer[str]
    roots: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, roots: _Optional[_Iterable[str]] = ..., extensions: _Optional[_Iterable[str]] = ..., allow_absolute_repo_imports: bool = ...) -> None: ...

class RuntimeSettings(_message.Message):
    __slots__ = ["console", "dedicated_host", "esm", "strict", "wasm"]
    CONSOLE_FIELD_NUMBER: _ClassVar[int]
    DEDICATED_HOST_FIELD_NUMBER: _ClassVar[int]
    ESM_FIELD_NUMBER: _ClassVar[int]
    STRICT_FIELD_NUMBER: _ClassVar[int]
    WASM_FIELD_NUMBER: _ClassVar[int]
    console: bool
    dedicated_host: bool
    esm: bool
    strict: bool
    wasm: bool
    def __init__(self, esm: bool = ..., strict: bool = ..., console: bool = ..., wasm: bool = ..., dedicated_host: bool = ...) -> None: ...

class StartupFile(_message.Message):
    __slots__ = ["created_at", "id", "mode", "order_index", "path", "template_id"]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    ORDER_INDEX_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_ID_FIELD_NUMBER: _ClassVar[int]
    created_at: _timestamp_pb2.Timestamp
    id: str
    mode: str
    order_index: int
    path: str
    template_id: str
    def __init__(self, id: _Optional[str] = ..., template_id: _Optional[str] = ..., path: _Optional[str] = ..., order_index: _Optional[int] = ..., mode: _Optional[str] = ..., created_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Template(_message.Message):
    __slots__ = ["capabilities", "created_at", "engine", "id", "libraries", "modules", "name", "settings", "startup_files", "updated_at"]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    LIBRARIES_FIELD_NUMBER: _ClassVar[int]
    MODULES_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    STARTUP_FILES_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    capabilities: _containers.RepeatedCompositeFieldContainer[Capability]
    created_at: _timestamp_pb2.Timestamp
    engine: str
    id: str
    libraries: _containers.RepeatedCompositeFieldContainer[Library]
    modules: _containers.RepeatedCompositeFieldContainer[Module]
    name: str
    settings: TemplateSettings
    startup_files: _containers.RepeatedCompositeFieldContainer[StartupFile]
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., engine: _Optional[str] = ..., settings: _Optional[_Union[TemplateSettings, _Mapping]] = ..., startup_files: _Optional[_Iterable[_Union[StartupFile, _Mapping]]] = ..., capabilities: _Optional[_Iterable[_Union[Capability, _Mapping]]] = ..., modules: _Optional[_Iterable[_Union[Module, _Mapping]]] = ..., libraries: _Optional[_Iterable[_Union[Library, _Mapping]]] = ..., created_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class TemplateSettings(_message.Message):
    __slots__ = ["limits", "resolver", "runtime"]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    RESOLVER_FIELD_NUMBER: _ClassVar[int]
    RUNTIME_FIELD_NUMBER: _ClassVar[int]
    limits: Limits
    resolver: ResolverSettings
    runtime: RuntimeSettings
    def __init__(self, limits: _Optional[_Union[Limits, _Mapping]] = ..., resolver: _Optional[_Union[ResolverSettings, _Mapping]] = ..., runtime: _Optional[_Union[RuntimeSettings, _Mapping]] = ...) -> None: ...

class UpdateTemplateSettingsRequest(_message.Message):
    __slots__ = ["settings", "template_id", "update_mask"]
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_ID_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    settings: TemplateSettings
    template_id: str
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, template_id: _Optional[str] = ..., settings: _Optional[_Union[TemplateSettings, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...
