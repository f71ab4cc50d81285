using System.CommandLine;
using Supervisor.Runtime;
using Supervisor.Runtime.Configs;
using Supervisor.Runtime.Oci;

namespace Supervisor.Cli.Commands;

/// <summary>
/// `exec [flags] ID COMMAND [ARGS...]` or `exec -p process.json ID`: run a process inside a running
/// container. The process starts from the container's own process settings (env, user, caps, rlimits,
/// no_new_privs), with the flags as overrides, as runc does.
/// </summary>
internal static class ExecCommand
{
    /// <summary>Options of exec that take a value: the pre-parser needs them to find where COMMAND starts.</summary>
    internal static readonly string[] ValueOptions =
    [
        "-e", "--env", "--cwd", "-u", "--user", "-g", "--additional-gids", "-c", "--cap", "--preserve-fds",
        "--pid-file", "-p", "--process", "--console-socket", "--process-label", "--apparmor", "--cgroup",
    ];

    public static Command Create()
    {
        var env = new Option<string[]>("--env", "-e") { Description = "set environment variables", AllowMultipleArgumentsPerToken = false };
        var cwd = new Option<string?>("--cwd") { Description = "current working directory in the container" };
        var user = new Option<string?>("--user", "-u") { Description = "UID (format: <uid>[:<gid>])" };
        var gids = new Option<string[]>("--additional-gids", "-g") { Description = "additional gids" };
        var caps = new Option<string[]>("--cap", "-c") { Description = "add a capability to the bounding set for the process" };
        var nnp = new Option<bool>("--no-new-privs") { Description = "set the no new privileges value for the process" };
        var preserve = new Option<uint>("--preserve-fds") { Description = "pass N additional file descriptors to the process" };
        var detach = new Option<bool>("--detach", "-d") { Description = "detach from the container's process" };
        var pidFile = new Option<string?>("--pid-file") { Description = "specify the file to write the process id to" };
        var tty = new Option<bool>("--tty", "-t") { Description = "allocate a pseudo-TTY" };
        var processFile = new Option<string?>("--process", "-p") { Description = "path to the process.json" };
        var consoleSocket = new Option<string?>("--console-socket") { Description = "path to an AF_UNIX socket which will receive the pty master" };
        var ignorePaused = new Option<bool>("--ignore-paused") { Description = "not supported: exec into a paused container is refused" };
        var command = new Argument<string[]>("command") { Arity = ArgumentArity.ZeroOrMore, Description = "the command and its arguments" };
        var cmd = new Command("exec", "execute new process inside the container")
        {
            CommandSet.IdArgument, command, env, cwd, user, gids, caps, nnp, preserve, detach, pidFile, tty, processFile, consoleSocket, ignorePaused,
        };
        cmd.SetAction(parse => CommandSet.Guard(parse, () =>
        {
            var container = CommandSet.Factory(parse).Load(parse.GetValue(CommandSet.IdArgument)!);
            var baseProcess = container.Config.Process;
            ProcessConfig process;
            if (parse.GetValue(processFile) is { } file)
            {
                process = SpecConverter.ConvertProcess(SpecLoader.LoadProcess(file));
            }
            else
            {
                var args = parse.GetValue(command) ?? [];
                if (args.Length == 0)
                    throw new RuntimeException("exec: no command given (usage: supervisor exec [flags] ID COMMAND [ARGS...])");
                process = baseProcess with { Args = args, Terminal = parse.GetValue(tty) };
            }
            process = ApplyOverrides(process, parse.GetValue(env), parse.GetValue(cwd), parse.GetValue(user),
                parse.GetValue(gids), parse.GetValue(caps), parse.GetValue(nnp));
            bool detached = parse.GetValue(detach);
            var socket = parse.GetValue(consoleSocket);
            if (process.Terminal && detached && socket is null)
                throw new RuntimeException("cannot allocate tty if supervisor will detach without setting console socket");

            using var proc = container.Exec(process, ProcessIo.Inherit with { PreserveFds = parse.GetValue(preserve) });
            if (parse.GetValue(pidFile) is { } pf)
                CommandSet.WritePidFile(pf, proc.Pid);
            if (socket is not null && proc.PtyMaster is { } master)
            {
                Supervisor.Linux.Terminal.Tty.SendToConsoleSocket(Path.GetFullPath(socket), master);
                master.Dispose();
            }
            if (detached)
            {
                proc.Detach();
                return 0;
            }
            TerminalBridge? bridge = process.Terminal && socket is null && proc.PtyMaster is { } pty ? new TerminalBridge(pty) : null;
            int code;
            using (bridge is null ? SignalForwarder.Forward(proc.Pid) : null)
            {
                code = proc.Wait();
            }
            bridge?.Dispose();
            proc.WaitShim();
            return code;
        }));
        return cmd;
    }

    private static ProcessConfig ApplyOverrides(ProcessConfig p, string[]? env, string? cwd, string? user, string[]? gids, string[]? caps, bool nnp)
    {
        if (env is { Length: > 0 })
            p = p with { Env = [.. p.Env, .. env] };
        if (!string.IsNullOrEmpty(cwd))
            p = p with { Cwd = cwd };
        if (!string.IsNullOrEmpty(user))
            p = p with { User = ParseUser(user, p.User) };
        if (gids is { Length: > 0 })
        {
            var list = new List<uint>();
            foreach (var g in gids.SelectMany(x => x.Split(',', StringSplitOptions.RemoveEmptyEntries)))
                list.Add(uint.TryParse(g, out var v) ? v : throw new RuntimeException($"invalid additional gid \"{g}\""));
            p = p with { User = p.User with { AdditionalGids = list } };
        }
        if (caps is { Length: > 0 })
        {
            // --cap adds to bounding, effective and permitted only: never inheritable or ambient
            // (CVE-2022-29162: inheritable caps let a non-root exec gain file capabilities).
            var set = p.Capabilities ?? new CapabilitySet();
            var add = caps.Select(c => c.StartsWith("CAP_", StringComparison.Ordinal) ? c : "CAP_" + c.ToUpperInvariant()).ToList();
            p = p with
            {
                Capabilities = set with
                {
                    Bounding = [.. set.Bounding.Union(add)],
                    Effective = [.. set.Effective.Union(add)],
                    Permitted = [.. set.Permitted.Union(add)],
                },
            };
        }
        if (nnp)
            p = p with { NoNewPrivileges = true };
        return p;
    }

    /// <summary>"uid[:gid]" as runc's exec takes it; numbers only, names are a matter of process.json.</summary>
    private static UserConfig ParseUser(string spec, UserConfig current)
    {
        var parts = spec.Split(':');
        if (parts.Length > 2 || !uint.TryParse(parts[0], out var uid))
            throw new RuntimeException($"invalid user \"{spec}\": expected <uid>[:<gid>]");
        uint gid = current.Gid;
        if (parts.Length == 2 && !uint.TryParse(parts[1], out gid))
            throw new RuntimeException($"invalid user \"{spec}\": expected <uid>[:<gid>]");
        return current with { Uid = uid, Gid = gid, Username = null };
    }
}
