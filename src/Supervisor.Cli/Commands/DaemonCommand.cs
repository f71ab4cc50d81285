using System.CommandLine;
using Supervisor.Linux;

namespace Supervisor.Cli.Commands;

/// <summary>
/// `daemon --config FILE`: the Akka.NET supervisor. It needs the JIT (Akka and the generic host rely on
/// reflection), so it is a separate program, supervisor-daemon, installed next to this one; this command
/// replaces the CLI process with it (execv), so that SIGTERM and SIGINT reach the daemon itself.
/// </summary>
internal static class DaemonCommand
{
    public const string DaemonName = "supervisor-daemon";

    public static Command Create()
    {
        var config = new Option<string?>("--config") { Description = "HOCON file with the daemon's settings (e.g. config/supervisor.conf)" };
        var cmd = new Command("daemon", "run the container supervisor in the foreground; stops on SIGTERM or SIGINT") { config };
        cmd.SetAction(parse => CommandSet.Guard(parse, () =>
        {
            var dir = Path.GetDirectoryName(Environment.ProcessPath) ?? AppContext.BaseDirectory;
            var daemon = Path.Combine(dir, DaemonName);
            if (!File.Exists(daemon))
                throw new IOException($"{daemon} not found: build it with make build");
            var argv = new List<string> { daemon, "--root", CliApp.StateRoot(parse) };
            if (parse.GetValue(config) is { } file)
                argv.AddRange(["--config", Path.GetFullPath(file)]);
            Syscalls.Exec(daemon, argv);
            return 1;
        }));
        return cmd;
    }
}
