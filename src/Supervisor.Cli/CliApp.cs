using System.CommandLine;
using Supervisor.Runtime;

namespace Supervisor.Cli;

/// <summary>
/// The `supervisor` command line: runc's command set and flags (ecosystem-notes §5.3), so that scripts
/// and tools written for runc work unchanged. Each command lives in its own file under Commands/.
/// </summary>
internal static class CliApp
{
    public static readonly Option<string?> RootOption = new("--root")
    {
        Description = "root directory for storage of container state (this should be located in tmpfs); default /run/supervisor, or $XDG_RUNTIME_DIR/supervisor (else /tmp/supervisor-<uid>) when rootless",
        Recursive = true,
    };

    /// <summary>
    /// runc's global --rootless: not recursive, so that it goes before the command (as runc requires) and
    /// does not clash with `spec --rootless`, which asks for a rootless config.
    /// </summary>
    public static readonly Option<string> RootlessOption = new("--rootless")
    {
        Description = "ignore cgroup permission errors and map the caller's ids ('true', 'false', or 'auto': rootless when not root)",
        DefaultValueFactory = _ => "auto",
    };

    /// <summary>Rootless mode as decided by --rootless and the effective uid.</summary>
    public static bool IsRootless(ParseResult parse) =>
        Rootless.Resolve(parse.GetValue(RootlessOption), Supervisor.Linux.Syscalls.EffectiveUid);

    /// <summary>The state root: --root, or the default for the (rootless or not) mode.</summary>
    public static string StateRoot(ParseResult parse) =>
        parse.GetValue(RootOption) is { Length: > 0 } root
            ? root
            : Rootless.DefaultStateRoot(IsRootless(parse), Supervisor.Linux.Syscalls.EffectiveUid,
                Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR"));

    public static readonly Option<string?> LogOption = new("--log")
    {
        Description = "set the log file to write runtime errors to (default is stderr)",
        Recursive = true,
    };

    public static readonly Option<string> LogFormatOption = new("--log-format")
    {
        Description = "set the log format ('text' (default), or 'json')",
        DefaultValueFactory = _ => "text",
        Recursive = true,
    };

    public static readonly Option<bool> DebugOption = new("--debug")
    {
        Description = "enable debug logging",
        Recursive = true,
    };

    public static readonly Option<bool> SystemdCgroupOption = new("--systemd-cgroup")
    {
        Description = "not supported: cgroups are managed through cgroupfs",
        Recursive = true,
    };

    public static readonly Option<string?> CriuOption = new("--criu")
    {
        Description = "path to the criu binary used for checkpoint and restore (default: $SUPERVISOR_CRIU, /opt/supervisor/criu/bin/criu, then criu on PATH)",
        Recursive = true,
    };

    public static int Run(string[] args)
    {
        var root = new RootCommand("supervisor: an OCI container runtime and container supervisor");
        root.Options.Add(RootOption);
        root.Options.Add(RootlessOption);
        root.Options.Add(LogOption);
        root.Options.Add(LogFormatOption);
        root.Options.Add(DebugOption);
        root.Options.Add(SystemdCgroupOption);
        root.Options.Add(CriuOption);
        foreach (var command in Commands.CommandSet.All())
            root.Subcommands.Add(command);
        if (Commands.RemoteCommand.TryExec(args) is { } remoteExit)
            return remoteExit;
        var config = new InvocationConfiguration { EnableDefaultExceptionHandler = false };
        try
        {
            return root.Parse(ArgsPreprocessor.Prepare(args)).Invoke(config);
        }
        catch (Exception e)
        {
            // Last resort: the commands report their own errors; this only catches what escaped them.
            ErrorLog.Write(null, e);
            return 1;
        }
    }
}
