using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Configuration;
using Supervisor.Actors;
using Supervisor.Actors.Runtime;
using Supervisor.Integration.Tests.Infrastructure;
using Supervisor.Runtime;
using Supervisor.Runtime.Cgroups;
using Supervisor.Runtime.Configs;

namespace Supervisor.Integration.Tests;

/// <summary>
/// The container actors in this process over the real <see cref="LinuxContainerRuntime"/>: CRIU checkpoint
/// and restore jobs, an exception injected into a container actor, and the daemon's refusal of a terminal.
/// Observed through the actors' replies and events and, from outside, through the CLI on the same root.
/// </summary>
public sealed class SupervisorActorTests : IDisposable
{
    private const string CounterScript = "i=0; while true; do i=$((i+1)); echo $i > /tmp/counter.new; mv /tmp/counter.new /tmp/counter; sleep 0.05; done";
    private static readonly TimeSpan Ask = TimeSpan.FromSeconds(60);

    private readonly StateRoot _root = new();
    private readonly List<Bundle> _bundles = [];
    private readonly ActorSystem _system;
    private readonly ConcurrentQueue<IContainerEvent> _events = new();
    private readonly FaultyRuntime _runtime;
    private readonly IActorRef _supervisor;

    public SupervisorActorTests()
    {
        _system = ActorSystem.Create("itest", ConfigurationFactory.ParseString("akka.loglevel = WARNING\nakka.stdout-loglevel = WARNING"));
        var recorder = _system.ActorOf(Props.Create(() => new Recorder(_events)));
        _system.EventStream.Subscribe(recorder, typeof(IContainerEvent));
        var settings = SupervisorSettings.Create(ConfigurationFactory.ParseString($$"""
            supervisor {
              state-root = "{{_root.Path}}"
              criu-path = "{{CriuFactAttribute.CriuPath}}"
              stop-timeout = 2s
              reconcile-interval = 1s
              stats.interval = 1s
            }
            """));
        _runtime = new FaultyRuntime(new LinuxContainerRuntime(new RuntimeOptions
        {
            StateRoot = _root.Path,
            ShimPath = Path.Combine(TestPaths.BinDir, "supervisor-shim"),
            CriuPath = CriuFactAttribute.CriuPath,
        }));
        _supervisor = _system.ActorOf(ContainerSupervisor.Props(settings, _runtime), "containers");
    }

    public void Dispose()
    {
        _system.Terminate().Wait(TimeSpan.FromSeconds(10));
        _root.Dispose();
        foreach (var b in _bundles)
            b.Dispose();
    }

    private sealed class Recorder : ReceiveActor
    {
        public Recorder(ConcurrentQueue<IContainerEvent> sink) => Receive<IContainerEvent>(sink.Enqueue);
    }

    /// <summary>The real runtime, with a fault that can be armed: the next Inspect throws it.</summary>
    private sealed class FaultyRuntime(IContainerRuntime inner) : IContainerRuntime
    {
        public Exception? FailNextInspect;

        public string StateRoot => inner.StateRoot;
        public IReadOnlyList<string> ListIds() => inner.ListIds();

        public ContainerSnapshot? Inspect(string id)
        {
            if (Interlocked.Exchange(ref FailNextInspect, null) is { } e)
                throw e;
            return inner.Inspect(id);
        }

        public ContainerSnapshot Create(string id, string bundle) => inner.Create(id, bundle);
        public ContainerSnapshot Start(string id) => inner.Start(id);
        public ContainerSnapshot Run(string id, string bundle) => inner.Run(id, bundle);
        public void Signal(string id, int signal, bool all) => inner.Signal(id, signal, all);
        public void Pause(string id) => inner.Pause(id);
        public void Resume(string id) => inner.Resume(id);
        public CgroupStats Stats(string id) => inner.Stats(id);
        public void Update(string id, Resources resources) => inner.Update(id, resources);
        public int Exec(string id, ProcessConfig process) => inner.Exec(id, process);
        public void Delete(string id, bool force) => inner.Delete(id, force);
        public void Checkpoint(string id, CheckpointSpec spec, CancellationToken cancel) => inner.Checkpoint(id, spec, cancel);
        public ContainerSnapshot Restore(string id, string bundle, CheckpointSpec spec, CancellationToken cancel) => inner.Restore(id, bundle, spec, cancel);
        public IDisposable WatchExit(ContainerSnapshot snapshot, Action<ExitReport> onExit) => inner.WatchExit(snapshot, onExit);
        public IDisposable WatchOom(string id, Action<DateTimeOffset> onOom) => inner.WatchOom(id, onOom);
    }

    private Bundle NewBundle(Action<JsonObject>? edit = null, params string[] args)
    {
        var b = new Bundle(_root.Path, edit, args);
        _bundles.Add(b);
        return b;
    }

    private T Send<T>(object message) where T : class
    {
        var reply = _supervisor.Ask<object>(message, Ask).GetAwaiter().GetResult();
        return reply as T ?? throw new Xunit.Sdk.XunitException($"{message} was answered with {reply}");
    }

    private T NextEvent<T>(string id, Func<T, bool>? match = null) where T : class, IContainerEvent
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            var hit = _events.OfType<T>().FirstOrDefault(e => e.Id == id && (match is null || match(e)));
            if (hit is not null)
                return hit;
            Thread.Sleep(20);
        }
        throw new TimeoutException($"no {typeof(T).Name} for {id}; events: {string.Join("; ", _events)}");
    }

    private (string Status, int Pid) CliState(string id)
    {
        var r = Cli.Run(_root.Path, "state", id);
        Assert.True(r.ExitCode == 0, r.ToString());
        var o = JsonNode.Parse(r.Stdout)!.AsObject();
        return (o["status"]!.GetValue<string>(), o["pid"]!.GetValue<int>());
    }

    private static int Counter(Bundle b)
    {
        var path = Path.Combine(b.RootfsPath, "tmp", "counter");
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                if (int.TryParse(File.ReadAllText(path).Trim(), out var v))
                    return v;
            }
            catch (FileNotFoundException)
            {
            }
            Thread.Sleep(20);
        }
        throw new TimeoutException($"{path} never held a number");
    }

    private static int WaitCounter(Bundle b, Func<int, bool> done, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            var v = Counter(b);
            if (done(v))
                return v;
            Thread.Sleep(20);
        }
        throw new TimeoutException($"the counter never {what} (last {Counter(b)})");
    }

    private string StartCounter(Bundle b)
    {
        var id = StateRoot.NewId("act");
        Send<CommandSucceeded>(new CreateContainer(id, b.Dir));
        Send<CommandSucceeded>(new StartContainer(id));
        return id;
    }

    [CriuFact]
    public void A_checkpoint_job_dumps_the_container_and_a_restore_job_continues_it_under_watch()
    {
        var b = NewBundle(args: ["/bin/sh", "-c", CounterScript]);
        var id = StartCounter(b);
        var started = NextEvent<ContainerStarted>(id);
        WaitCounter(b, v => v > 20, "passed 20");

        var images = Path.Combine(b.Dir, "images");
        Send<CommandSucceeded>(new CheckpointContainer(id, images));
        Assert.False(NextEvent<ContainerCheckpointed>(id).LeaveRunning);
        var atDump = Counter(b);
        Assert.Equal(("checkpointed", 0), CliState(id));
        Thread.Sleep(300);
        Assert.Equal(atDump, Counter(b));
        // The dump's end of the init is not a failure for the restart policy.
        Assert.DoesNotContain(_events.OfType<ContainerExited>(), e => e.Id == id);
        Assert.Equal(ContainerStatus.Checkpointed, Send<ContainerInfo>(new GetContainerState(id)).Status);

        Send<CommandSucceeded>(new RestoreContainer(id, images));
        var restored = NextEvent<ContainerRestored>(id);
        Assert.NotEqual(started.Pid, restored.Pid);
        Assert.Equal(("running", restored.Pid), CliState(id));
        // A restored shell counts on from the dump; a restarted one would start again at 1.
        var resumed = WaitCounter(b, v => v != atDump, "moved after the restore");
        Assert.InRange(resumed, atDump + 1, atDump + 20);

        // The restored init is watched like a fresh start: its kill -9 is reported with its real status,
        // which this process (CRIU made it our child) reaps and records.
        Shell.Run($"kill -9 {restored.Pid}");
        var exited = NextEvent<ContainerExited>(id);
        Assert.Equal((restored.Pid, 137, 9), (exited.Pid, exited.ExitCode, exited.Signal));
        Assert.Equal("stopped", CliState(id).Status);
    }

    [CriuFact]
    public void A_checkpoint_past_its_timeout_kills_criu_and_the_container_runs_on_with_the_same_pid()
    {
        var b = NewBundle(args: ["/bin/sh", "-c", CounterScript]);
        var id = StartCounter(b);
        var started = NextEvent<ContainerStarted>(id);
        WaitCounter(b, v => v > 5, "passed 5");

        var failed = Send<CommandFailed>(new CheckpointContainer(id, Path.Combine(b.Dir, "images"), Timeout: TimeSpan.FromMilliseconds(1)));
        Assert.Contains("timed out", failed.Error);
        NextEvent<CheckpointFailed>(id);

        Assert.Equal(("running", started.Pid), CliState(id));
        var now = Counter(b);
        WaitCounter(b, v => v > now + 5, "kept counting");
        Assert.False(File.Exists(Path.Combine(b.Dir, "images", Container.DescriptorsFile)), "an unfinished dump must not look restorable");
        Assert.Equal(ContainerStatus.Running, Send<ContainerInfo>(new GetContainerState(id)).Status);
        Assert.DoesNotContain(_events.OfType<ContainerExited>(), e => e.Id == id);

        // And a checkpoint that leaves it running, with the default timeout, works afterwards.
        Send<CommandSucceeded>(new CheckpointContainer(id, Path.Combine(b.Dir, "images"), LeaveRunning: true));
        Assert.Equal(("running", started.Pid), CliState(id));
    }

    [RootFact]
    public void An_exception_injected_into_a_container_actor_restarts_the_actor_and_the_container_keeps_its_pid()
    {
        var b = NewBundle(args: ["/bin/sleep", "1000"]);
        var id = StateRoot.NewId("inj");
        Send<CommandSucceeded>(new CreateContainer(id, b.Dir));
        Send<CommandSucceeded>(new StartContainer(id));
        var started = NextEvent<ContainerStarted>(id);

        _runtime.FailNextInspect = new IOException($"read {_root.Path}/{id}/state.json: Input/output error");
        var failed = Send<CommandFailed>(new GetContainerState(id));
        Assert.Contains("Input/output error", failed.Error);

        // The new incarnation re-reads the state root and adopts the same init; nothing was restarted.
        var adopted = NextEvent<ContainerAdopted>(id);
        Assert.Equal((ContainerStatus.Running, started.Pid), (adopted.Status, adopted.Pid));
        var info = Send<ContainerInfo>(new GetContainerState(id));
        Assert.Equal((ContainerStatus.Running, started.Pid, 0), (info.Status, info.Pid, info.RestartCount));
        Assert.Equal(("running", started.Pid), CliState(id));
        Assert.Single(_events.OfType<ContainerStarted>(), e => e.Id == id);

        // It still watches the init.
        Shell.Run($"kill -9 {started.Pid}");
        Assert.Equal(137, NextEvent<ContainerExited>(id).ExitCode);
    }

    [RootFact]
    public void A_bundle_that_asks_for_a_terminal_is_refused_with_one_clear_reason()
    {
        var b = NewBundle(c => c["process"]!["terminal"] = true, "/bin/sh");
        var id = StateRoot.NewId("tty");
        var failed = Send<CommandFailed>(new CreateContainer(id, b.Dir));
        Assert.Equal(LinuxContainerRuntime.TerminalRefusal(b.Dir), failed.Error);
        Assert.DoesNotContain('\n', failed.Error);
        Assert.Contains("console socket", failed.Error);
        Assert.NotEqual(0, Cli.Run(_root.Path, "state", id).ExitCode);
        Assert.False(Directory.Exists(Path.Combine(_root.Path, id)));
    }
}
