using Supervisor.Actors.Runtime;
using Supervisor.Runtime;
using Supervisor.Runtime.Cgroups;
using Supervisor.Runtime.Configs;
using Supervisor.Runtime.Validation;

namespace Supervisor.Actors.Tests.Fakes;

/// <summary>
/// An in-memory runtime: containers are records, pids are handed out in sequence, and the test decides
/// when an init exits (<see cref="Exit"/>) or an OOM happens (<see cref="Oom"/>). Every call is counted.
/// </summary>
public sealed class FakeRuntime : IContainerRuntime
{
    private readonly object _lock = new();
    private readonly Dictionary<string, ContainerSnapshot> _containers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<Action<ExitReport>>> _exitWatches = new();
    private readonly Dictionary<string, List<Action<DateTimeOffset>>> _oomWatches = new();
    private int _nextPid = 1000;

    public FakeRuntime(string stateRoot, Func<DateTimeOffset> clock)
    {
        StateRoot = stateRoot;
        Clock = clock;
    }

    public string StateRoot { get; }
    public Func<DateTimeOffset> Clock { get; }
    public List<string> Calls { get; } = [];
    public List<(string Id, int Signal, bool All)> Signals { get; } = [];
    public HashSet<string> BadBundles { get; } = [];

    /// <summary>When set, a checkpoint or restore blocks until it is opened (or the call is cancelled, as a killed CRIU).</summary>
    public ManualResetEventSlim? CriuGate { get; set; }

    /// <summary>When set, checkpoints and restores fail with this message (as a CRIU error would).</summary>
    public string? CriuError { get; set; }

    public List<CheckpointSpec> Dumps { get; } = [];

    /// <summary>When set, the next Inspect throws it once (an injected transient fault).</summary>
    public Exception? FailNextInspect { get; set; }

    public int Count(string call) { lock (_lock) return Calls.Count(c => c == call); }

    private void Record(string call) { lock (_lock) Calls.Add(call); }

    /// <summary>Puts a container into the state root as if an earlier daemon had left it there.</summary>
    public ContainerSnapshot Seed(string id, ContainerStatus status, ExitReport? exit = null, string bundle = "/bundles/x")
    {
        lock (_lock)
        {
            var pid = ++_nextPid;
            var snap = new ContainerSnapshot(id, bundle, status, exit?.Pid ?? pid, 1, pid + 50000, 1,
                status == ContainerStatus.Stopped ? exit ?? ExitReport.Unknown(pid, Clock()) : null);
            _containers[id] = snap;
            return snap;
        }
    }

    /// <summary>Puts this exact snapshot in the state root.</summary>
    public void Replace(ContainerSnapshot snapshot) { lock (_lock) _containers[snapshot.Id] = snapshot; }

    public ContainerSnapshot? Get(string id) { lock (_lock) return _containers.GetValueOrDefault(id); }

    /// <summary>The init of <paramref name="id"/> exits: the state says stopped and every exit watch fires.</summary>
    public void Exit(string id, int code, int signal = 0, bool oom = false)
    {
        List<Action<ExitReport>> watchers;
        ExitReport report;
        lock (_lock)
        {
            var s = _containers[id];
            report = new ExitReport(s.InitPid, signal != 0 ? 128 + signal : code, signal, oom, Clock());
            _containers[id] = s with { Status = ContainerStatus.Stopped, Exit = report };
            watchers = _exitWatches.Remove(id, out var w) ? w : [];
        }
        foreach (var w in watchers)
            w(report);
    }

    /// <summary>The init exits but no watch hears of it (a lost notification).</summary>
    public void ExitQuietly(string id, int code)
    {
        lock (_lock)
        {
            var s = _containers[id];
            _containers[id] = s with { Status = ContainerStatus.Stopped, Exit = new ExitReport(s.InitPid, code, 0, false, Clock()) };
            _exitWatches.Remove(id);
        }
    }

    /// <summary>The container disappears from the state root behind the supervisor's back (a CLI delete -f), unheard.</summary>
    public void RemoveQuietly(string id)
    {
        lock (_lock)
        {
            _containers.Remove(id);
            _exitWatches.Remove(id);
        }
    }

    public void Oom(string id)
    {
        List<Action<DateTimeOffset>> watchers;
        lock (_lock)
            watchers = _oomWatches.GetValueOrDefault(id)?.ToList() ?? [];
        if (watchers.Count == 0)
            throw new InvalidOperationException($"nobody watches {id} for OOM yet");
        foreach (var w in watchers)
            w(Clock());
    }

    public IReadOnlyList<string> ListIds() { lock (_lock) return _containers.Keys.Order(StringComparer.Ordinal).ToList(); }

    public ContainerSnapshot? Inspect(string id)
    {
        lock (_lock)
        {
            if (FailNextInspect is { } e)
            {
                FailNextInspect = null;
                throw e;
            }
            return _containers.GetValueOrDefault(id);
        }
    }

    public ContainerSnapshot Create(string id, string bundle) => Make(id, bundle, ContainerStatus.Created, "create");

    public ContainerSnapshot Run(string id, string bundle) => Make(id, bundle, ContainerStatus.Running, "run");

    private ContainerSnapshot Make(string id, string bundle, ContainerStatus status, string call)
    {
        Record(call);
        if (BadBundles.Contains(bundle))
            throw new ConfigException($"bundle {bundle}: config.json: no such file");
        lock (_lock)
        {
            if (_containers.ContainsKey(id))
                throw new ContainerExistsException(id);
            var pid = ++_nextPid;
            var snap = new ContainerSnapshot(id, bundle, status, pid, 1, pid + 50000, 1, null);
            _containers[id] = snap;
            return snap;
        }
    }

    public ContainerSnapshot Start(string id)
    {
        Record("start");
        lock (_lock)
        {
            var s = _containers[id] with { Status = ContainerStatus.Running };
            _containers[id] = s;
            return s;
        }
    }

    public void Signal(string id, int signal, bool all)
    {
        lock (_lock)
        {
            Signals.Add((id, signal, all));
            if (_containers.GetValueOrDefault(id) is not { Status: not ContainerStatus.Stopped })
                throw new InvalidContainerStateException("container not running");
        }
    }

    public void Pause(string id) => SetStatus(id, ContainerStatus.Paused, "pause");

    public void Resume(string id) => SetStatus(id, ContainerStatus.Running, "resume");

    private void SetStatus(string id, ContainerStatus status, string call)
    {
        Record(call);
        lock (_lock)
            _containers[id] = _containers[id] with { Status = status };
    }

    public CgroupStats Stats(string id)
    {
        Record("stats");
        return new CgroupStats { Pids = new PidsStats { Current = 3 } };
    }

    public void Update(string id, Resources resources) => Record("update");

    public int Exec(string id, ProcessConfig process)
    {
        Record("exec");
        lock (_lock)
            return ++_nextPid;
    }

    public void Delete(string id, bool force)
    {
        Record("delete");
        lock (_lock)
        {
            var s = _containers.GetValueOrDefault(id) ?? throw new ContainerNotFoundException(id);
            if (s.Status is ContainerStatus.Running or ContainerStatus.Paused && !force)
                throw new InvalidContainerStateException($"cannot delete container {id} that is not stopped");
            _containers.Remove(id);
            _exitWatches.Remove(id);
        }
    }

    private void WaitCriu(string call, CancellationToken cancel)
    {
        Record(call);
        if (CriuGate is { } gate)
        {
            WaitHandle.WaitAny([gate.WaitHandle, cancel.WaitHandle]);
            if (cancel.IsCancellationRequested)
            {
                Record(call + "-killed");
                throw new RuntimeException($"criu {call}: criu exited without an answer (killed by signal 9)");
            }
        }
        if (CriuError is { } error)
            throw new RuntimeException($"criu {call}: {error}");
    }

    public void Checkpoint(string id, CheckpointSpec spec, CancellationToken cancel)
    {
        WaitCriu("checkpoint", cancel);
        List<Action<ExitReport>> watchers = [];
        ExitReport? report = null;
        lock (_lock)
        {
            var s = _containers.GetValueOrDefault(id) ?? throw new ContainerNotFoundException(id);
            if (s.Status is not (ContainerStatus.Running or ContainerStatus.Paused))
                throw new InvalidContainerStateException($"cannot checkpoint a container that is {s.Status.ToOci()}");
            Dumps.Add(spec);
            if (!spec.LeaveRunning)
            {
                // CRIU kills the dumped tree; the shim then records the init's exit by SIGKILL.
                report = new ExitReport(s.InitPid, 137, 9, false, Clock());
                _containers[id] = s with { Status = ContainerStatus.Checkpointed, Exit = null };
                watchers = _exitWatches.Remove(id, out var w) ? w : [];
            }
        }
        foreach (var w in watchers)
            w(report!);
    }

    public ContainerSnapshot Restore(string id, string bundle, CheckpointSpec spec, CancellationToken cancel)
    {
        WaitCriu("restore", cancel);
        lock (_lock)
        {
            if (_containers.GetValueOrDefault(id) is { } s && s.Status != ContainerStatus.Checkpointed)
                throw new InvalidContainerStateException($"cannot restore into container {id}: it is {s.Status.ToOci()}");
            var pid = ++_nextPid;
            var snap = new ContainerSnapshot(id, bundle, ContainerStatus.Running, pid, 1, 0, 0, null);
            _containers[id] = snap;
            return snap;
        }
    }

    public IDisposable WatchExit(ContainerSnapshot snapshot, Action<ExitReport> onExit)
    {
        lock (_lock)
        {
            if (!_exitWatches.TryGetValue(snapshot.Id, out var list))
                _exitWatches[snapshot.Id] = list = [];
            list.Add(onExit);
        }
        return new Unwatch(() => { lock (_lock) _exitWatches.GetValueOrDefault(snapshot.Id)?.Remove(onExit); });
    }

    public IDisposable WatchOom(string id, Action<DateTimeOffset> onOom)
    {
        lock (_lock)
        {
            if (!_oomWatches.TryGetValue(id, out var list))
                _oomWatches[id] = list = [];
            list.Add(onOom);
        }
        return new Unwatch(() => { lock (_lock) _oomWatches.GetValueOrDefault(id)?.Remove(onOom); });
    }

    private sealed class Unwatch(Action a) : IDisposable
    {
        public void Dispose() => a();
    }
}
