using System.CommandLine;
using Supervisor.Runtime.Signals;

namespace Supervisor.Cli.Commands;

/// <summary>`kill [--all] ID [SIGNAL]`: SIGNAL is a name with or without SIG, or a number; default SIGTERM.</summary>
internal static class KillCommand
{
    public static Command Create()
    {
        var signal = new Argument<string>("signal")
        {
            Description = "signal name (KILL, SIGKILL) or number, default SIGTERM",
            Arity = ArgumentArity.ZeroOrOne,
            DefaultValueFactory = _ => "SIGTERM",
        };
        var all = new Option<bool>("--all", "-a") { Description = "send the signal to every process of the container" };
        var cmd = new Command("kill", "kill sends the specified signal (default: SIGTERM) to the container's init process")
        {
            CommandSet.IdArgument, signal, all,
        };
        cmd.SetAction(parse => CommandSet.Guard(parse, () =>
        {
            int number = SignalNames.Parse(parse.GetValue(signal)!);
            CommandSet.Factory(parse).Load(parse.GetValue(CommandSet.IdArgument)!).Signal(number, parse.GetValue(all));
            return 0;
        }));
        return cmd;
    }
}
