using System.CommandLine;
using Supervisor.Criu;
using Supervisor.Runtime;
using Supervisor.Runtime.Oci;

namespace Supervisor.Cli.Commands;

/// <summary>
/// `restore ID`: recreate a container from CRIU images. A checkpointed container is restored in place;
/// an unknown id is created from the bundle first (the migration case). The restored init runs under a
/// supervisor-shim like a fresh one; in the foreground the CLI waits for the exit code the shim reports,
/// deletes the container and returns the code, as `run` does. `-d` leaves the shim watching alone.
/// </summary>
internal static class RestoreCommand
{
    public static Command Create()
    {
        var image = CriuFlags.ImagePath();
        var work = CriuFlags.WorkPath();
        var bundle = new Option<string?>("--bundle", "-b") { Description = "path to the root of the bundle directory" };
        var detach = new Option<bool>("--detach", "-d") { Description = "detach from the container's process" };
        var pidFile = new Option<string?>("--pid-file") { Description = "specify the file to write the process id to" };
        var tcp = CriuFlags.TcpEstablished();
        var unix = CriuFlags.ExtUnixSk();
        var shell = CriuFlags.ShellJob();
        var locks = CriuFlags.FileLocks();
        var mode = CriuFlags.ManageCgroupsMode();
        var noPivot = new Option<bool>("--no-pivot")
        {
            Description = "accepted for runc compatibility: CRIU restores the container's mount namespace itself",
        };
        var cmd = new Command("restore", "restore a container from a previous checkpoint")
        {
            CommandSet.IdArgument, image, work, bundle, detach, pidFile, tcp, unix, shell, locks, mode, noPivot,
        };
        cmd.SetAction(parse => CommandSet.Guard(parse, () =>
        {
            var id = parse.GetValue(CommandSet.IdArgument)!;
            var options = new CriuOptions
            {
                ImagesDirectory = parse.GetValue(image),
                WorkDirectory = parse.GetValue(work),
                TcpEstablished = parse.GetValue(tcp),
                ExternalUnixConnections = parse.GetValue(unix),
                ShellJob = parse.GetValue(shell),
                FileLocks = parse.GetValue(locks),
                ManageCgroupsMode = CriuFlags.ParseMode(parse.GetValue(mode)),
            };
            var factory = CommandSet.Factory(parse);
            Container container;
            if (factory.Exists(id))
            {
                container = factory.Load(id);
            }
            else
            {
                var dir = Path.GetFullPath(parse.GetValue(bundle) ?? Directory.GetCurrentDirectory());
                var config = SpecConverter.Convert(SpecLoader.LoadBundle(dir), dir);
                container = factory.Create(id, dir, config);
            }
            using var process = container.Restore(ProcessIo.Inherit, options);
            if (parse.GetValue(pidFile) is { Length: > 0 } path)
                CommandSet.WritePidFile(path, process.Pid);
            if (parse.GetValue(detach))
            {
                process.Detach();
                return 0;
            }
            int code;
            using (SignalForwarder.Forward(process.Pid))
            {
                code = process.Wait();
            }
            try
            {
                container.Delete(force: true);
            }
            catch (RuntimeException e)
            {
                ErrorLog.Write(parse, e);
            }
            process.WaitShim();
            return code;
        }));
        return cmd;
    }
}
