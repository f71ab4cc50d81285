using System.CommandLine;
using Supervisor.Runtime;

namespace Supervisor.Cli.Commands;

/// <summary>`delete [-f] ID`: removes a stopped container; -f kills a running one first.</summary>
internal static class DeleteCommand
{
    public static Command Create()
    {
        var force = new Option<bool>("--force", "-f") { Description = "forcibly delete the container if it is still running (uses SIGKILL)" };
        var cmd = new Command("delete", "delete any resources held by the container") { CommandSet.IdArgument, force };
        cmd.SetAction(parse => CommandSet.Guard(parse, () =>
        {
            var id = parse.GetValue(CommandSet.IdArgument)!;
            Container container;
            try
            {
                container = CommandSet.Factory(parse).Load(id);
            }
            catch (ContainerNotFoundException) when (parse.GetValue(force))
            {
                // runc: deleting a missing container with --force succeeds, so cleanup scripts are idempotent.
                return 0;
            }
            container.Delete(parse.GetValue(force));
            return 0;
        }));
        return cmd;
    }
}
