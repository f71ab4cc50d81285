namespace Supervisor.Runtime.Configs;

/// <summary>OCI hooks. Unlike libcontainer 2015, they are persisted with the config (reference §8.9).</summary>
public sealed record HooksConfig
{
    /// <summary>Deprecated OCI prestart hooks: run in the runtime namespace after the namespaces exist.</summary>
    public IReadOnlyList<Hook> Prestart { get; init; } = [];
    public IReadOnlyList<Hook> CreateRuntime { get; init; } = [];
    public IReadOnlyList<Hook> CreateContainer { get; init; } = [];
    public IReadOnlyList<Hook> StartContainer { get; init; } = [];
    public IReadOnlyList<Hook> Poststart { get; init; } = [];
    public IReadOnlyList<Hook> Poststop { get; init; } = [];
}

/// <summary>One hook: an absolute path, its argv (including argv0), env and a timeout in seconds.</summary>
public sealed record Hook(string Path, IReadOnlyList<string> Args, IReadOnlyList<string> Env, int? Timeout);
