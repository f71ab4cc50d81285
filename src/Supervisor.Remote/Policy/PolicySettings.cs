namespace Supervisor.Remote.Policy;

/// <summary>The limits the policy gate puts on operators (admins are not limited).</summary>
/// <param name="AllowedBundleRoots">Directories a bundle, rootfs, or restore bundle of an operator's container must be inside.</param>
/// <param name="AllowedBindRoots">Host directories an operator may bind-mount from (the source must be inside one).</param>
/// <param name="AllowedImageRoots">Directories an operator's checkpoint images may be written to or restored from.</param>
/// <param name="OperatorCapabilities">The capabilities an operator's container may hold (Docker's default set by default).</param>
public sealed record PolicySettings(
    IReadOnlyList<string> AllowedBundleRoots,
    IReadOnlyList<string> AllowedBindRoots,
    IReadOnlyList<string> AllowedImageRoots,
    IReadOnlySet<string> OperatorCapabilities)
{
    /// <summary>
    /// Docker's default capability set: what an unprivileged `docker run` grants. Everything else
    /// (CAP_SYS_ADMIN, CAP_SYS_PTRACE, CAP_SYS_MODULE, CAP_NET_ADMIN, ...) is a privileged request.
    /// </summary>
    public static readonly IReadOnlySet<string> DefaultCapabilities = new HashSet<string>(StringComparer.Ordinal)
    {
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
        "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
    };

    public static PolicySettings Default { get; } = new([], [], [], DefaultCapabilities);
}
