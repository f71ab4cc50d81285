namespace Supervisor.Linux.Shim;

/// <summary>
/// The constants of native/include/supervisor_shim.h. The two files must agree; a test compiles the
/// header with gcc and compares every size and offset listed here.
/// </summary>
public static class ShimAbi
{
    public const ushort AbiVersion = 2;
    public const uint RequestMagic = 0x56505553u;
    public const uint MaxRequest = 8u * 1024u * 1024u;
    public const int ErrorDetailLength = 512;
    public const uint UmaskUnset = 0xffffffffu;
    public const string ExitFile = "exit.json";
    public const string SocketFile = "shim.sock";

    public const int MsgHeaderSize = 8;
    public const int PidMsgSize = 4;
    public const int ExitMsgSize = 8;
    public const int ErrorSize = 8 + ErrorDetailLength;
    public const int RequestHeaderSize = 16;
    public const int RecordHeaderSize = 8;
    public const int NamespaceSize = 8;
    public const int UserSize = 16;
    public const int CapsSize = 40;
    public const int RlimitSize = 24;
    public const int MountSize = 56;
    public const int DeviceSize = 32;
    public const int SeccompSize = 8;
    public const int ConsoleSizeSize = 8;
    public const int MkdirSize = 8;

    /// <summary>Field offsets the encoder writes (checked against offsetof in the tests).</summary>
    public static class Offsets
    {
        public const int RequestMagic = 0, RequestAbiVersion = 4, RequestMode = 6, RequestTotalLength = 8, RequestRecordCount = 12;
        public const int RecordTag = 0, RecordReserved = 2, RecordLength = 4;
        public const int ErrorStep = 0, ErrorErrnum = 4, ErrorDetail = 8;
        public const int ExitPid = 0, ExitWaitStatus = 4;
        public const int UserUid = 0, UserGid = 4, UserUmask = 8, UserNgroups = 12;
        public const int CapsBounding = 0, CapsEffective = 8, CapsPermitted = 16, CapsInheritable = 24, CapsAmbient = 32;
        public const int RlimitResource = 0, RlimitSoft = 8, RlimitHard = 16;
        public const int MountKind = 0, MountDestIsFile = 4, MountFlags = 8, MountClearFlags = 16, MountPropagation = 24;
        public const int DeviceMode = 0, DeviceUid = 4, DeviceGid = 8, DeviceMajor = 16, DeviceMinor = 24;
        public const int SeccompFlags = 0, SeccompCount = 4;
        public const int ConsoleRows = 0, ConsoleCols = 2;
        public const int MkdirMode = 0;
    }
}

/// <summary>enum shim_msg: the control socket's message types.</summary>
public enum ShimMessage : uint
{
    Request = 1,
    Go = 2,
    Start = 3,
    Abort = 4,
    /// <summary>Restore mode: the restored init the shim is to monitor.</summary>
    Adopt = 5,
    Child = 16,
    Ready = 17,
    Execed = 18,
    Error = 19,
    Exited = 20,
    Pty = 21,
    /// <summary>Restore mode: criu, the shim's helper child, ended (pid and wait status).</summary>
    HelperExited = 22,
}

/// <summary>enum shim_tag: record tags of the request blob.</summary>
public enum ShimTag : ushort
{
    Arg = 1,
    Env = 2,
    Cwd = 3,
    Rootfs = 4,
    StateDir = 5,
    Hostname = 6,
    Domainname = 7,
    Flags = 8,
    Namespace = 9,
    User = 10,
    Caps = 11,
    Rlimit = 12,
    OomScoreAdj = 13,
    Sysctl = 14,
    Mount = 15,
    Device = 16,
    Symlink = 17,
    MaskPath = 18,
    ReadonlyPath = 19,
    RootPropagation = 20,
    Seccomp = 21,
    PreserveFds = 22,
    Pdeathsig = 23,
    ConsoleSize = 24,
    Mkdir = 25,
}

/// <summary>enum shim_step: where a failure happened.</summary>
public enum ShimStep
{
    None = 0,
    ReadRequest = 1,
    ParseRequest = 2,
    Fork = 3,
    Setns = 4,
    Clone = 5,
    Sync = 6,
    Setsid = 7,
    SetIdsInUserns = 8,
    UnshareCgroup = 9,
    Loopback = 10,
    RootPropagation = 11,
    RootfsBind = 12,
    Mount = 13,
    MountTarget = 14,
    Device = 15,
    Symlink = 16,
    Console = 17,
    PivotRoot = 18,
    MaskPath = 19,
    ReadonlyPath = 20,
    ReadonlyRoot = 21,
    Hostname = 22,
    Domainname = 23,
    Sysctl = 24,
    Rlimit = 25,
    OomScoreAdj = 26,
    Setgroups = 27,
    Setgid = 28,
    Setuid = 29,
    Caps = 30,
    NoNewPrivs = 31,
    Seccomp = 32,
    Chdir = 33,
    CloseFds = 34,
    ExecLookup = 35,
    Exec = 36,
    WaitStart = 37,
    Umask = 38,
    Pdeathsig = 39,
    StateDir = 40,
    Tty = 41,
    Seal = 42,
}
