using System.CommandLine;
using System.Runtime.InteropServices;
using Supervisor.Runtime;
using Supervisor.Runtime.Configs;
using Supervisor.Runtime.Oci;

namespace Supervisor.Cli.Commands;

/// <summary>create, start and run: the container lifecycle commands.</summary>
internal static class LifecycleCommands
{
    private static Option<string> BundleOption() => new("--bundle", "-b")
    {
        Description = "path to the root of the bundle directory, defaults to the current directory",
    };

    private static Option<string?> PidFileOption() => new("--pid-file")
    {
        Description = "specify the file to write the process id to",
    };

    private static Option<uint> PreserveFdsOption() => new("--preserve-fds")
    {
        Description = "pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)",
    };

    private static Option<bool> NoPivotOption() => new("--no-pivot")
    {
        Description = "do not use pivot root to jail process inside rootfs (needed on ramfs)",
    };

    private static Option<string?> ConsoleSocketOption() => new("--console-socket")
    {
        Description = "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal",
    };

    private static Option<bool> NoNewKeyringOption() => new("--no-new-keyring")
    {
        Description = "accepted for runc compatibility; no session keyring is created",
    };

    public static Command CreateCommand()
    {
        var bundle = BundleOption();
        var pidFile = PidFileOption();
        var preserve = PreserveFdsOption();
        var noPivot = NoPivotOption();
        var consoleSocket = ConsoleSocketOption();
        var cmd = new Command("create", "create a container")
        {
            CommandSet.IdArgument, bundle, pidFile, preserve, noPivot, consoleSocket, NoNewKeyringOption(),
        };
        cmd.SetAction(parse => CommandSet.Guard(parse, () =>
        {
            var socket = parse.GetValue(consoleSocket);
            var (container, _) = Prepare(parse, bundle, noPivot, socket, detached: true);
            using var process = container.Init(IoFrom(parse.GetValue(preserve)), waitStart: true);
            HandOverPty(container, process, socket);
            WritePid(parse, pidFile, process.Pid);
            process.Detach();
            return 0;
        }));
        return cmd;
    }

    public static Command StartCommand()
    {
        var cmd = new Command("start", "executes the user defined process in a created container") { CommandSet.IdArgument };
        cmd.SetAction(parse => CommandSet.Guard(parse, () =>
        {
            CommandSet.Factory(parse).Load(parse.GetValue(CommandSet.IdArgument)!).Start();
            return 0;
        }));
        return cmd;
    }

    public static Command RunCommand()
    {
        var bundle = BundleOption();
        var pidFile = PidFileOption();
        var preserve = PreserveFdsOption();
        var noPivot = NoPivotOption();
        var detach = new Option<bool>("--detach", "-d") { Description = "detach from the container's process" };
        var keep = new Option<bool>("--keep") { Description = "do not delete the container after it exits" };
        var noSubreaper = new Option<bool>("--no-subreaper") { Description = "accepted for runc compatibility; the shim is always the subreaper" };
        var consoleSocket = ConsoleSocketOption();
        var cmd = new Command("run", "create and run a container")
        {
            CommandSet.IdArgument, bundle, pidFile, preserve, noPivot, detach, keep, noSubreaper, consoleSocket, NoNewKeyringOption(),
        };
        cmd.SetAction(parse => CommandSet.Guard(parse, () =>
        {
            bool detached = parse.GetValue(detach);
            var socket = parse.GetValue(consoleSocket);
            var (container, config) = Prepare(parse, bundle, noPivot, socket, detached);
            var process = container.Run(IoFrom(parse.GetValue(preserve)));
            Timing.Mark("Run");
            WritePid(parse, pidFile, process.Pid);
            if (detached || socket is not null)
            {
                HandOverPty(container, process, socket);
                if (detached)
                {
                    process.Detach();
                    process.Dispose();
                    return 0;
                }
            }
            int code;
            TerminalBridge? bridge = config.Process.Terminal && socket is null && process.PtyMaster is { } pty
                ? new TerminalBridge(pty)
                : null;
            // With a terminal, ^C reaches the container through its pty; without one, the signals the
            // CLI gets are forwarded to the init.
            using (bridge is null ? SignalForwarder.Forward(process.Pid) : null)
            {
                code = process.Wait();
            }
            bridge?.Dispose();
            Timing.Mark("Wait");
            if (!parse.GetValue(keep))
            {
                try
                {
                    container.Delete(force: true);
                }
                catch (RuntimeException e)
                {
                    ErrorLog.Write(parse, e);
                }
            }
            Timing.Mark("Delete");
            process.WaitShim();
            process.Dispose();
            Timing.Mark("done");
            return code;
        }));
        return cmd;
    }

    private static (Container, ContainerConfig) Prepare(ParseResult parse, Option<string> bundleOption, Option<bool> noPivot, string? consoleSocket, bool detached)
    {
        var id = parse.GetValue(CommandSet.IdArgument)!;
        var bundle = Path.GetFullPath(parse.GetValue(bundleOption) ?? Directory.GetCurrentDirectory());
        Timing.Mark("parsed");
        var spec = SpecLoader.LoadBundle(bundle);
        Timing.Mark("loaded");
        var config = SpecConverter.Convert(spec, bundle);
        Timing.Mark("converted");
        if (parse.GetValue(noPivot))
            config = config with { NoPivotRoot = true };
        // The pty master has to go somewhere: to the --console-socket listener, or (foreground run) to
        // the user's terminal. A detached container has no user terminal, so, as runc, refuse early.
        if (config.Process.Terminal && detached && consoleSocket is null)
            throw new RuntimeException("cannot allocate tty if supervisor will detach without setting console socket");
        if (!config.Process.Terminal && consoleSocket is not null)
            throw new RuntimeException("cannot use console socket if supervisor will not allocate tty");
        var factory = CommandSet.Factory(parse);
        var c = factory.Create(id, bundle, config);
        Timing.Mark("factory.Create");
        return (c, config);
    }

    /// <summary>Sends the pty master to the console socket (runc's protocol) and closes our copy.</summary>
    private static void HandOverPty(Container container, ContainerProcess process, string? socket)
    {
        if (socket is null || process.PtyMaster is not { } pty)
            return;
        try
        {
            Supervisor.Linux.Terminal.Tty.SendToConsoleSocket(Path.GetFullPath(socket), pty);
        }
        catch
        {
            process.Dispose();
            container.Delete(force: true);
            throw;
        }
        pty.Dispose();
    }

    private static ProcessIo IoFrom(uint preserveFds) => ProcessIo.Inherit with { PreserveFds = preserveFds };

    private static void WritePid(ParseResult parse, Option<string?> pidFile, int pid)
    {
        var path = parse.GetValue(pidFile);
        if (!string.IsNullOrEmpty(path))
            CommandSet.WritePidFile(path, pid);
    }
}

/// <summary>
/// Forwards the signals a foreground `run` receives to the container's init, as runc does, so Ctrl-C and
/// a SIGTERM from a service manager reach the workload instead of killing the CLI.
/// </summary>
internal sealed class SignalForwarder : IDisposable
{
    private readonly List<PosixSignalRegistration> _registrations = [];

    private SignalForwarder(int pid)
    {
        foreach (var (posix, number) in new[]
                 {
                     (PosixSignal.SIGINT, 2), (PosixSignal.SIGTERM, 15), (PosixSignal.SIGHUP, 1),
                     (PosixSignal.SIGQUIT, 3), (PosixSignal.SIGWINCH, 28),
                 })
        {
            _registrations.Add(PosixSignalRegistration.Create(posix, ctx =>
            {
                ctx.Cancel = true;
                try
                {
                    Supervisor.Linux.Syscalls.Kill(pid, number);
                }
                catch (Supervisor.Linux.SyscallException)
                {
                    // The init already exited; the wait in progress returns its status.
                }
            }));
        }
    }

    public static SignalForwarder Forward(int pid) => new(pid);

    public void Dispose()
    {
        foreach (var r in _registrations)
            r.Dispose();
    }
}
