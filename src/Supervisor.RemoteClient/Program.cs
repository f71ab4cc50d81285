using System.Globalization;
using System.Text;
using Google.Protobuf;
using Supervisor.Protocol;
using Supervisor.Protocol.V1;
using Supervisor.Remote.Client;
using Supervisor.Remote.Gateway;
using Supervisor.Remote.Security;
using Supervisor.Runtime.State;
using Supervisor.Common;

namespace Supervisor.RemoteClient;

/// <summary>
/// supervisor-remote (what `supervisor remote` execs): drives a daemon's control plane over mutual TLS.
/// Output matches the local CLI: `list` prints runc's table or JSON, `state` the OCI state JSON.
/// </summary>
public static class Program
{
    private const string Usage = """
        usage: supervisor remote --address HOST:PORT --cert FILE --key FILE [--ca FILE] [--system NAME] [--timeout SECONDS] COMMAND

        commands:
          run ID (--bundle DIR | --config FILE) [--restart POLICY] [--node NAME] [--role ROLE] [--label KEY=VALUE]...
          list [--format table|json] [--quiet]
          state ID
          stop ID [--time SECONDS]
          kill ID [SIGNAL] [--all]
          pause ID
          resume ID
          exec ID [--env KEY=VALUE]... [--cwd DIR] -- COMMAND [ARG...]
          events [ID] [--stats] [--count N]
          checkpoint ID --image-path DIR [--leave-running] [--tcp-established]
          restore ID --image-path DIR
          migrate ID --to NODE [--tcp-established]
          delete ID [--force]
          bench ID [--count N]    N GetState round trips on one connection; prints the latency figures

        --ca defaults to ca.crt next to --cert. A certificate's role (admin or operator) is its subject's OU.
        On a cluster node, run places a workload by --role, --label and --node (a node's cluster address,
        akka.tcp://supervisor@HOST:PORT) and prints the pid, or "pending: REASON" when no node takes it yet;
        list shows every node's containers (with a NODE column when they span several nodes).
        """;

    public static async Task<int> Main(string[] args)
    {
        Timing.Mark("main");
        string? address = null, cert = null, key = null, ca = null, system = null;
        int timeout = 30;
        int i = 0;
        for (; i < args.Length && args[i].StartsWith("--", StringComparison.Ordinal); i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new UsageException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--address": address = Value(); break;
                case "--cert": cert = Value(); break;
                case "--key": key = Value(); break;
                case "--ca": ca = Value(); break;
                case "--system": system = Value(); break;
                case "--timeout": timeout = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--help":
                    Console.Out.WriteLine(Usage);
                    return 0;
                default:
                    return Fail($"unknown option {args[i]}\n{Usage}", 2);
            }
        }
        if (address is null || cert is null || i >= args.Length)
            return Fail($"--address, --cert and a command are required\n{Usage}", 2);
        var colon = address.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(address[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port))
            return Fail($"--address {address}: expected HOST:PORT", 2);
        ca ??= Path.Combine(Path.GetDirectoryName(Path.GetFullPath(cert)) ?? ".", "ca.crt");

        var name = args[i];
        var rest = new Arguments(args[(i + 1)..]);
        RemoteControlClient? client = null;
        try
        {
            // Parse the whole command line before connecting, so that a typo costs no connection.
            var command = Build(name, rest, out var output);
            client = RemoteControlClient.Connect(new RemoteClientOptions(address[..colon].Trim('[', ']'), port, cert, key, ca,
                system ?? "supervisor-control") { Timeout = TimeSpan.FromSeconds(timeout), Progress = Timing.Sink });
            if (command.KindCase == Command.KindOneofCase.SubscribeEvents)
                return Environment.ExitCode = await Events(client, command, rest.Count);
            if (name == "bench")
                return Environment.ExitCode = await Bench(client, command, rest.Count);
            var reply = await client.Send(command);
            Timing.Mark("reply");
            if (reply.Error is { } error)
                return Environment.ExitCode = Fail(ErrorText(error), 1);
            output(reply);
            Timing.Mark("printed");
            return Environment.ExitCode = 0;
        }
        catch (UsageException e)
        {
            return Fail($"{e.Message}\n{Usage}", 2);
        }
        catch (Exception e) when (e is RemoteControlException or TlsConfigurationException or IOException)
        {
            return Environment.ExitCode = Fail(e.Message, 1);
        }
        finally
        {
            Console.Out.Flush();
            if (client is not null)
            {
                // The ActorSystem terminates before the process exits so that its association ends the way a
                // leaving system ends it: the pending writes flushed, a disassociate sent, the socket half-closed
                // and drained. The daemon then sees the client leave rather than a dropped connection, which it
                // logs as a failed association and gates. (Akka.Remote 1.5 stops the protocol actors right
                // after the endpoint writers, so the disassociate is occasionally not written first; the daemon
                // then sees the close as a drop. Either way its event subscriptions for the client end.)
                // Then the process exits at once rather than waiting for the transport's event-loop threads,
                // whose shutdown Akka does not await. Terminating only after the output is printed keeps the
                // protocol actors from competing with the printing for the CPU, which made that race likelier.
                Timing.Mark("output flushed");
                await client.DisposeAsync();
                Timing.Mark("left (actor system terminated)");
                Environment.Exit(Environment.ExitCode);
            }
        }
    }

    private static string ErrorText(Error e) =>
        $"{e.Code.ToString().Replace("ErrorCode", "", StringComparison.Ordinal).ToLowerInvariant()}: {e.Message}";

    private static int Fail(string message, int code)
    {
        Console.Error.WriteLine($"supervisor remote: {message}");
        return code;
    }

    private sealed class UsageException(string message) : Exception(message);

    /// <summary>The words after the command: positionals and --options.</summary>
    private sealed class Arguments(string[] args)
    {
        private readonly List<string> _args = [.. args];

        public int Count { get; private set; }

        public string? Option(string name)
        {
            var at = _args.IndexOf(name);
            if (at < 0)
                return null;
            if (at + 1 >= _args.Count)
                throw new UsageException($"{name} needs a value");
            var v = _args[at + 1];
            _args.RemoveRange(at, 2);
            return v;
        }

        public List<string> Options(string name)
        {
            var list = new List<string>();
            while (Option(name) is { } v)
                list.Add(v);
            return list;
        }

        public bool Flag(params string[] names)
        {
            bool found = false;
            foreach (var n in names)
                found |= _args.Remove(n);
            return found;
        }

        public int Int(string name, int fallback)
        {
            var v = Option(name);
            if (v is null)
                return fallback;
            return int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : throw new UsageException($"{name} {v}: not a number");
        }

        /// <summary>Everything after "--" (removed from the arguments).</summary>
        public List<string> Tail()
        {
            var at = _args.IndexOf("--");
            if (at < 0)
                return [];
            var tail = _args[(at + 1)..];
            _args.RemoveRange(at, _args.Count - at);
            return tail;
        }

        public string Id(string command)
        {
            var positional = Positionals();
            return positional.Count > 0 ? positional[0] : throw new UsageException($"{command}: the container id is missing");
        }

        public List<string> Positionals()
        {
            foreach (var a in _args)
            {
                if (a.StartsWith("--", StringComparison.Ordinal))
                    throw new UsageException($"unknown option {a}");
            }
            return _args;
        }

        public void Set(int count) => Count = count;
    }

    private static Command Build(string name, Arguments a, out Action<IControlReply> output)
    {
        output = _ => { };
        switch (name)
        {
            case "run":
            {
                var bundle = a.Option("--bundle");
                var configFile = a.Option("--config");
                var restart = a.Option("--restart");
                var node = a.Option("--node");
                var role = a.Option("--role");
                var labels = a.Options("--label");
                var run = new RunContainer { Id = a.Id("run") };
                if ((bundle is null) == (configFile is null))
                    throw new UsageException("run: give exactly one of --bundle DIR and --config FILE");
                if (bundle is not null)
                    run.Bundle = Path.GetFullPath(bundle);
                else
                    run.OciConfigJson = File.ReadAllText(configFile!);
                if (restart is not null)
                    run.Restart = new RestartPolicy { Policy = restart };
                if (node is not null || role is not null || labels.Count > 0)
                {
                    run.Constraints = new NodeConstraints { Node = node ?? "", Role = role ?? "" };
                    foreach (var label in labels)
                    {
                        var eq = label.IndexOf('=');
                        if (eq <= 0)
                            throw new UsageException($"run: --label {label}: expected KEY=VALUE");
                        run.Constraints.Labels[label[..eq]] = label[(eq + 1)..];
                    }
                }
                output = r =>
                {
                    var reply = (RunContainerReply)r;
                    Console.Out.WriteLine(reply.Phase == "pending" ? "pending: " + reply.Reason : reply.Pid.ToString(CultureInfo.InvariantCulture));
                };
                return new Command { Run = run };
            }
            case "list" or "ls":
            {
                var format = a.Option("--format") ?? a.Option("-f") ?? "table";
                var quiet = a.Flag("--quiet", "-q");
                a.Positionals();
                if (format is not ("table" or "json"))
                    throw new UsageException($"invalid format option \"{format}\"");
                output = r =>
                {
                    var listed = (ListContainersReply)r;
                    foreach (var missing in listed.UnansweredNodes)
                        Console.Error.WriteLine($"supervisor remote: list: node {missing} did not answer; its containers are missing");
                    var nodes = listed.Containers.Select(c => c.Node).Distinct(StringComparer.Ordinal).Count();
                    var states = listed.Containers.Select(ProtocolMapping.ToOciState).ToList();
                    if (quiet)
                    {
                        foreach (var s in states)
                            Console.Out.WriteLine(s.Id);
                    }
                    else if (format == "json")
                    {
                        Console.Out.WriteLine(RuntimeJson.SerializeStatesCompact(states));
                    }
                    else if (nodes > 1)
                    {
                        Console.Out.Write(TextTable.Format(["ID", "PID", "STATUS", "NODE", "BUNDLE", "CREATED", "OWNER"],
                            listed.Containers.Zip(states).Select(p => new[]
                            {
                                p.Second.Id, p.Second.Pid.ToString(CultureInfo.InvariantCulture), p.Second.Status, p.First.Node, p.Second.Bundle,
                                p.Second.Created.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture),
                                p.Second.Owner.Length > 0 ? p.Second.Owner : "root",
                            })));
                    }
                    else
                    {
                        Console.Out.Write(TextTable.Format(["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"],
                            states.Select(s => new[]
                            {
                                s.Id, s.Pid.ToString(CultureInfo.InvariantCulture), s.Status, s.Bundle,
                                s.Created.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture),
                                s.Owner.Length > 0 ? s.Owner : "root",
                            })));
                    }
                };
                return new Command { List = new ListContainers() };
            }
            case "state":
                output = r => Console.Out.WriteLine(RuntimeJson.SerializeState(ProtocolMapping.ToOciState(((GetStateReply)r).State)));
                return new Command { GetState = new GetState { Id = a.Id("state") } };
            case "stop":
            {
                var time = a.Int("--time", 0);
                return new Command { Stop = new StopContainer { Id = a.Id("stop"), TimeoutMs = time * 1000L } };
            }
            case "kill":
            {
                var all = a.Flag("--all", "-a");
                var p = a.Positionals();
                if (p.Count == 0)
                    throw new UsageException("kill: the container id is missing");
                var signal = p.Count > 1 ? ParseSignal(p[1]) : 15;
                return new Command { Kill = new KillContainer { Id = p[0], Signal = signal, All = all } };
            }
            case "pause":
                return new Command { Pause = new PauseContainer { Id = a.Id("pause") } };
            case "resume":
                return new Command { Resume = new ResumeContainer { Id = a.Id("resume") } };
            case "exec":
            {
                var tail = a.Tail();
                var exec = new ExecInContainer { Cwd = a.Option("--cwd") ?? "" };
                exec.Env.AddRange(a.Options("--env"));
                var p = a.Positionals();
                if (p.Count == 0)
                    throw new UsageException("exec: the container id is missing");
                exec.Id = p[0];
                exec.Args.AddRange(tail.Count > 0 ? tail : p.Skip(1));
                if (exec.Args.Count == 0)
                    throw new UsageException("exec: no command given");
                output = r => Console.Out.WriteLine(((ExecInContainerReply)r).Pid.ToString(CultureInfo.InvariantCulture));
                return new Command { Exec = exec };
            }
            case "events":
            {
                var stats = a.Flag("--stats");
                a.Set(a.Int("--count", 0));
                var p = a.Positionals();
                return new Command { SubscribeEvents = new SubscribeEvents { ContainerId = p.Count > 0 ? p[0] : "", IncludeStats = stats } };
            }
            case "checkpoint":
            {
                var image = a.Option("--image-path") ?? throw new UsageException("checkpoint: --image-path is required");
                var leave = a.Flag("--leave-running");
                var tcp = a.Flag("--tcp-established");
                return new Command
                {
                    Checkpoint = new CheckpointContainer { Id = a.Id("checkpoint"), ImagePath = Path.GetFullPath(image), LeaveRunning = leave, TcpEstablished = tcp },
                };
            }
            case "restore":
            {
                var image = a.Option("--image-path") ?? throw new UsageException("restore: --image-path is required");
                var bundle = a.Option("--bundle");
                output = r => Console.Out.WriteLine(((RestoreContainerReply)r).Pid.ToString(CultureInfo.InvariantCulture));
                return new Command
                {
                    Restore = new RestoreContainer { Id = a.Id("restore"), ImagePath = Path.GetFullPath(image), Bundle = bundle is null ? "" : Path.GetFullPath(bundle) },
                };
            }
            case "migrate":
            {
                var to = a.Option("--to") ?? throw new UsageException("migrate: --to NODE is required");
                var tcp = a.Flag("--tcp-established");
                output = r =>
                {
                    var m = (MigrateContainerReply)r;
                    Console.Out.WriteLine($"migrated to {m.ToNode}: " + string.Join(", ", m.Phases.Select(ph => $"{ph.Phase} {ph.DurationMs} ms")));
                };
                return new Command { Migrate = new MigrateContainer { Id = a.Id("migrate"), ToNode = to, TcpEstablished = tcp } };
            }
            case "bench":
            {
                a.Set(a.Int("--count", 1000));
                return new Command { GetState = new GetState { Id = a.Id("bench") } };
            }
            case "delete" or "rm":
            {
                var force = a.Flag("--force", "-f");
                return new Command { Delete = new DeleteContainer { Id = a.Id("delete"), Force = force } };
            }
            default:
                throw new UsageException($"unknown command {name}");
        }
    }

    /// <summary>Round trips of one command on an established connection (the first one, which pays for the connection, is reported apart).</summary>
    private static async Task<int> Bench(RemoteControlClient client, Command command, int count)
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var first = await client.Send(command);
        var connect = sw.Elapsed.TotalMilliseconds;
        if (first.Error is { } e)
            return Fail(ErrorText(e), 1);
        var samples = new double[Math.Max(1, count)];
        for (int k = 0; k < samples.Length; k++)
        {
            sw.Restart();
            var r = await client.Send(command);
            samples[k] = sw.Elapsed.TotalMilliseconds;
            if (r.Error is { } err)
                return Fail(ErrorText(err), 1);
        }
        Array.Sort(samples);
        double P(double q) => samples[Math.Min(samples.Length - 1, (int)(q * samples.Length))];
        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"first (connect + TLS + round trip): {connect:F1} ms; {samples.Length} round trips: min {samples[0]:F2} ms, median {P(0.5):F2} ms, p90 {P(0.9):F2} ms, p99 {P(0.99):F2} ms, max {samples[^1]:F2} ms"));
        return 0;
    }

    private static int ParseSignal(string s)
    {
        if (int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var n))
            return n;
        var name = s.ToUpperInvariant();
        if (!name.StartsWith("SIG", StringComparison.Ordinal))
            name = "SIG" + name;
        return name switch
        {
            "SIGHUP" => 1, "SIGINT" => 2, "SIGQUIT" => 3, "SIGKILL" => 9, "SIGUSR1" => 10, "SIGUSR2" => 12,
            "SIGTERM" => 15, "SIGCONT" => 18, "SIGSTOP" => 19,
            _ => throw new UsageException($"kill: unknown signal {s}"),
        };
    }

    /// <summary>Prints one JSON line per event, like `supervisor events`, until --count events or Ctrl-C.</summary>
    private static async Task<int> Events(RemoteControlClient client, Command command, int count)
    {
        var done = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var seen = 0;
        var formatter = new JsonFormatter(JsonFormatter.Settings.Default.WithFormatDefaultValues(true));
        Action<EventNotification> onEvent = n =>
        {
            var ev = n.Event;
            var kind = ev.KindCase.ToString();
            var type = string.Concat(kind.Select((ch, k) => k > 0 && char.IsUpper(ch) ? "-" + char.ToLowerInvariant(ch) : char.ToLowerInvariant(ch).ToString()));
            var data = ev.KindCase switch
            {
                Event.KindOneofCase.None => "{}",
                _ => formatter.Format((IMessage)Event.Descriptor.FindFieldByNumber((int)ev.KindCase).Accessor.GetValue(ev)),
            };
            Console.Out.WriteLine($"{{\"type\":\"{type}\",\"id\":{JsonString(ProtocolMapping.IdOf(ev))},\"node\":{JsonString(ev.Node)},\"data\":{data}}}");
            Console.Out.Flush();
            if (count > 0 && ++seen >= count)
                done.TrySetResult(0);
        };
        Action<IControlReply> onReply = reply =>
        {
            if (reply.Error is { } e)
                done.TrySetResult(Fail(ErrorText(e), 1));
        };
        var printer = client.System.ActorOf(Akka.Actor.Props.Create(() => new EventPrinter(onEvent, onReply)));
        var envelope = client.Sign(command);
        client.Gateway.Tell(envelope, printer);
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            done.TrySetResult(0);
        };
        return await done.Task;
    }

    private static string JsonString(string s) => System.Text.Json.JsonSerializer.Serialize(s, ClientJson.Default.String);

    private sealed class EventPrinter : Akka.Actor.ReceiveActor
    {
        public EventPrinter(Action<EventNotification> onEvent, Action<IControlReply> onReply)
        {
            Receive<EventNotification>(onEvent);
            Receive<IControlReply>(onReply);
        }
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(string))]
internal sealed partial class ClientJson : System.Text.Json.Serialization.JsonSerializerContext;
