using System.CommandLine;

namespace Supervisor.Cli.Commands;

/// <summary>`pause ID` / `resume ID`: freeze and thaw every process of the container (cgroup freezer).</summary>
internal static class PauseCommands
{
    public static Command Pause()
    {
        var cmd = new Command("pause", "pause suspends all processes inside the container") { CommandSet.IdArgument };
        cmd.SetAction(parse => CommandSet.Guard(parse, () =>
        {
            CommandSet.Factory(parse).Load(parse.GetValue(CommandSet.IdArgument)!).Pause();
            return 0;
        }));
        return cmd;
    }

    public static Command Resume()
    {
        var cmd = new Command("resume", "resume resumes all processes that have been previously paused") { CommandSet.IdArgument };
        cmd.SetAction(parse => CommandSet.Guard(parse, () =>
        {
            CommandSet.Factory(parse).Load(parse.GetValue(CommandSet.IdArgument)!).Resume();
            return 0;
        }));
        return cmd;
    }
}
