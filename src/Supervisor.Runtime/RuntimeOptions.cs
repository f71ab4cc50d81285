namespace Supervisor.Runtime;

/// <summary>Where the runtime keeps its state and finds its helper programs.</summary>
public sealed record RuntimeOptions
{
    public const string DefaultStateRoot = "/run/supervisor";

    /// <summary>State root (runc's --root): one directory per container.</summary>
    public string StateRoot { get; init; } = DefaultStateRoot;

    /// <summary>The supervisor-shim binary; by default next to the running program, or $SUPERVISOR_SHIM.</summary>
    public string? ShimPath { get; init; }

    /// <summary>How long pause/resume wait for the freezer to report the new state.</summary>
    public TimeSpan FreezeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Rootless mode (<see cref="Supervisor.Runtime.Rootless"/>): configs are adapted to the caller's ids,
    /// only delegated cgroups are used, and the user namespace maps are written as an unprivileged process.
    /// </summary>
    public bool Rootless { get; init; }

    /// <summary>The criu binary (the configured path, after a --criu flag and before the private install and PATH).</summary>
    public string? CriuPath { get; init; }

    public string ResolveShimPath()
    {
        if (!string.IsNullOrEmpty(ShimPath))
            return ShimPath;
        var env = Environment.GetEnvironmentVariable("SUPERVISOR_SHIM");
        if (!string.IsNullOrEmpty(env))
            return env;
        var candidate = Path.Combine(AppContext.BaseDirectory, "supervisor-shim");
        if (File.Exists(candidate))
            return candidate;
        var bin = Environment.GetEnvironmentVariable("SUPERVISOR_BIN");
        if (!string.IsNullOrEmpty(bin) && File.Exists(Path.Combine(bin, "supervisor-shim")))
            return Path.Combine(bin, "supervisor-shim");
        throw new RuntimeException($"supervisor-shim not found next to {AppContext.BaseDirectory}; set SUPERVISOR_SHIM");
    }
}

/// <summary>The container statuses of the OCI state (plus runc's paused).</summary>
public enum ContainerStatus
{
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
    /// <summary>Dumped by CRIU without leave-running: the processes are gone, the images wait for a restore.</summary>
    Checkpointed,
}

public static class ContainerStatusNames
{
    public static string ToOci(this ContainerStatus s) => s switch
    {
        ContainerStatus.Creating => "creating",
        ContainerStatus.Created => "created",
        ContainerStatus.Running => "running",
        ContainerStatus.Paused => "paused",
        ContainerStatus.Checkpointed => "checkpointed",
        _ => "stopped",
    };
}

/// <summary>The stdio and extra fds handed to a container process.</summary>
public sealed record ProcessIo
{
    public static readonly ProcessIo Inherit = new();
    public int Stdin { get; init; }
    public int Stdout { get; init; } = 1;
    public int Stderr { get; init; } = 2;
    /// <summary>Fds 3..3+N-1 of the caller that the process keeps (runc's --preserve-fds).</summary>
    public uint PreserveFds { get; init; }
}
