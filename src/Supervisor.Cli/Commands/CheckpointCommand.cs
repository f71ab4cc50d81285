using System.CommandLine;
using Supervisor.Criu;
using Supervisor.Runtime;

namespace Supervisor.Cli.Commands;

/// <summary>Options shared by checkpoint and restore (runc's flag names).</summary>
internal static class CriuFlags
{
    public static Option<string?> ImagePath() => new("--image-path") { Description = "path for saving criu image files" };
    public static Option<string?> WorkPath() => new("--work-path") { Description = "path for saving work files and logs" };
    public static Option<bool> TcpEstablished() => new("--tcp-established") { Description = "allow open tcp connections" };
    public static Option<bool> ExtUnixSk() => new("--ext-unix-sk") { Description = "allow external unix sockets" };
    public static Option<bool> ShellJob() => new("--shell-job") { Description = "allow shell jobs" };
    public static Option<bool> FileLocks() => new("--file-locks") { Description = "handle file locks, for safety" };
    public static Option<string?> ManageCgroupsMode() => new("--manage-cgroups-mode")
    {
        Description = "cgroups mode: 'soft' (default), 'full', 'strict' or 'ignore'",
    };

    public static CriuCgroupMode ParseMode(string? text)
    {
        try
        {
            return CriuCgroupModes.Parse(text);
        }
        catch (ArgumentException e)
        {
            throw new RuntimeException(e.Message);
        }
    }
}

/// <summary>`checkpoint ID`: dump the container's processes with CRIU.</summary>
internal static class CheckpointCommand
{
    public static Command Create()
    {
        var image = CriuFlags.ImagePath();
        var work = CriuFlags.WorkPath();
        var parent = new Option<string?>("--parent-path") { Description = "path for previous criu image files in pre-dump" };
        var leave = new Option<bool>("--leave-running") { Description = "leave the process running after checkpointing" };
        var tcp = CriuFlags.TcpEstablished();
        var unix = CriuFlags.ExtUnixSk();
        var shell = CriuFlags.ShellJob();
        var locks = CriuFlags.FileLocks();
        var preDump = new Option<bool>("--pre-dump") { Description = "dump container's memory information only, leave the container running after this" };
        var mode = CriuFlags.ManageCgroupsMode();
        var cmd = new Command("checkpoint", "checkpoint a running container")
        {
            CommandSet.IdArgument, image, work, parent, leave, tcp, unix, shell, locks, preDump, mode,
        };
        cmd.SetAction(parse => CommandSet.Guard(parse, () =>
        {
            var options = new CriuOptions
            {
                ImagesDirectory = parse.GetValue(image),
                WorkDirectory = parse.GetValue(work),
                ParentImage = parse.GetValue(parent),
                LeaveRunning = parse.GetValue(leave),
                TcpEstablished = parse.GetValue(tcp),
                ExternalUnixConnections = parse.GetValue(unix),
                ShellJob = parse.GetValue(shell),
                FileLocks = parse.GetValue(locks),
                PreDump = parse.GetValue(preDump),
                ManageCgroupsMode = CriuFlags.ParseMode(parse.GetValue(mode)),
            };
            CommandSet.Factory(parse).Load(parse.GetValue(CommandSet.IdArgument)!).Checkpoint(options);
            return 0;
        }));
        return cmd;
    }
}
