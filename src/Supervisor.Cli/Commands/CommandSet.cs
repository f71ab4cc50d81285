using System.CommandLine;
using Supervisor.Linux;
using Supervisor.Linux.Shim;
using Supervisor.Runtime;

namespace Supervisor.Cli.Commands;

internal static class CommandSet
{
    public static IEnumerable<Command> All() =>
    [
        SpecCommand.Create(),
        LifecycleCommands.CreateCommand(),
        LifecycleCommands.StartCommand(),
        LifecycleCommands.RunCommand(),
        KillCommand.Create(),
        DeleteCommand.Create(),
        QueryCommands.StateCommand(),
        QueryCommands.ListCommand(),
        QueryCommands.PsCommand(),
        PauseCommands.Pause(),
        PauseCommands.Resume(),
        ExecCommand.Create(),
        EventsCommand.Create(),
        UpdateCommand.Create(),
        DaemonCommand.Create(),
        RemoteCommand.Create(),
        CheckpointCommand.Create(),
        RestoreCommand.Create(),
    ];

    public static readonly Argument<string> IdArgument = new("container-id")
    {
        Description = "the container's id (unique on this host)",
    };

    public static ContainerFactory Factory(ParseResult parse)
    {
        if (parse.GetValue(CliApp.SystemdCgroupOption))
            throw new RuntimeException("--systemd-cgroup is not supported: cgroups are managed through cgroupfs");
        return new ContainerFactory(new RuntimeOptions
        {
            StateRoot = CliApp.StateRoot(parse),
            Rootless = CliApp.IsRootless(parse),
            CriuPath = parse.GetValue(CliApp.CriuOption) is { Length: > 0 } criu ? criu : Environment.GetEnvironmentVariable("SUPERVISOR_CRIU"),
        });
    }

    /// <summary>Runs a command body, turning every expected failure into one logged line and exit code 1.</summary>
    public static int Guard(ParseResult parse, Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e)
        {
            // Every failure, expected or not, reaches the user as one line and exit code 1.
            ErrorLog.Write(parse, e);
            return 1;
        }
    }

    /// <summary>Writes a pid file atomically, as runc does (containerd reads it while it may be written).</summary>
    public static void WritePidFile(string path, int pid)
    {
        var full = Path.GetFullPath(path);
        Supervisor.Runtime.State.AtomicFile.Write(full, System.Text.Encoding.ASCII.GetBytes(pid.ToString()));
    }
}
