namespace Supervisor.Linux.Shim;

/// <summary>
/// A failure reported by supervisor-shim (a shim_error record) or a broken conversation with it. The
/// message is one line in runc's style, e.g. <c>exec: "foo": executable file not found in $PATH</c> or
/// <c>mount /proc: no such device</c>.
/// </summary>
public sealed class ShimException : Exception
{
    public ShimException(ShimStep step, Errno errno, string detail)
        : base(Format(step, errno, detail))
    {
        Step = step;
        Errno = errno;
        Detail = detail;
    }

    public ShimStep Step { get; }
    public Errno Errno { get; }
    public string Detail { get; }

    internal static string Format(ShimStep step, Errno errno, string detail)
    {
        if (step == ShimStep.ExecLookup)
        {
            if (errno == Errno.ENOENT && !detail.Contains('/'))
                return $"exec: \"{detail}\": executable file not found in $PATH";
            if (errno == Errno.ENOENT)
                return $"exec: \"{detail}\": stat {detail}: {SyscallException.Describe(errno)}";
            return $"exec: \"{detail}\": {SyscallException.Describe(errno)}";
        }
        string what = Describe(step);
        string head = string.IsNullOrEmpty(detail) ? what : $"{what} {detail}";
        return errno == Errno.None ? head : $"{head}: {SyscallException.Describe(errno)}";
    }

    /// <summary>A short, lower-case description of a step for error messages.</summary>
    public static string Describe(ShimStep step) => step switch
    {
        ShimStep.ReadRequest => "shim: read request from",
        ShimStep.ParseRequest => "shim: invalid request:",
        ShimStep.Fork => "shim: fork",
        ShimStep.Setns => "join namespace",
        ShimStep.Clone => "clone container process:",
        ShimStep.Sync => "shim:",
        ShimStep.Setsid => "container init:",
        ShimStep.SetIdsInUserns => "become root in user namespace:",
        ShimStep.UnshareCgroup => "create cgroup namespace:",
        ShimStep.Loopback => "bring up loopback",
        ShimStep.RootPropagation => "set mount propagation of",
        ShimStep.RootfsBind => "bind mount rootfs",
        ShimStep.Mount => "mount",
        ShimStep.MountTarget => "create mount target",
        ShimStep.Device => "create device",
        ShimStep.Symlink => "create symlink",
        ShimStep.Console => "set up console",
        ShimStep.PivotRoot => "pivot_root",
        ShimStep.MaskPath => "mask path",
        ShimStep.ReadonlyPath => "make path read-only",
        ShimStep.ReadonlyRoot => "remount root read-only",
        ShimStep.Hostname => "sethostname",
        ShimStep.Domainname => "setdomainname",
        ShimStep.Sysctl => "write sysctl",
        ShimStep.Rlimit => "setrlimit",
        ShimStep.OomScoreAdj => "write oom_score_adj",
        ShimStep.Setgroups => "setgroups:",
        ShimStep.Setgid => "setgid",
        ShimStep.Setuid => "setuid",
        ShimStep.Caps => "set capabilities:",
        ShimStep.NoNewPrivs => "set no_new_privs:",
        ShimStep.Seccomp => "load seccomp filter:",
        ShimStep.Chdir => "chdir to cwd",
        ShimStep.CloseFds => "close fds:",
        ShimStep.Exec => "exec",
        ShimStep.WaitStart => "start:",
        ShimStep.Umask => "umask:",
        ShimStep.Pdeathsig => "set parent death",
        ShimStep.StateDir => "open state dir",
        ShimStep.Tty => "set up terminal:",
        ShimStep.Seal => "shim: seal own binary:",
        _ => $"shim step {(int)step}:",
    };
}
