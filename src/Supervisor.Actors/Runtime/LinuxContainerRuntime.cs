using System.Collections.Concurrent;
using System.Globalization;
using Supervisor.Criu;
using Supervisor.Linux;
using Supervisor.Linux.Notify;
using Supervisor.Linux.Shim;
using Supervisor.Runtime;
using Supervisor.Runtime.Cgroups;
using Supervisor.Runtime.Configs;
using Supervisor.Runtime.Oci;
using Supervisor.Runtime.State;
using Supervisor.Runtime.Validation;

namespace Supervisor.Actors.Runtime;

/// <summary>
/// <see cref="IContainerRuntime"/> over <see cref="ContainerFactory"/>. The daemon never stays attached to a
/// shim: after start the shim session is detached, so the shim (the init's parent, which records the exit
/// status in exit.json) runs on when the daemon dies. The daemon watches the init through a pidfd, which
/// works without being its parent and cannot be fooled by a reused pid, and reaps only the shims it
/// started itself, by pid, never with waitpid(-1) (which would steal .NET's own children).
/// Container stdout and stderr go to <c>console.log</c> in the container's state directory.
/// </summary>
public sealed class LinuxContainerRuntime : IContainerRuntime
{
    public const string ConsoleLogName = "console.log";

    /// <summary>How long to wait for exit.json after the init exited: the shim writes it right after reaping.</summary>
    private static readonly TimeSpan ExitRecordWait = TimeSpan.FromSeconds(10);

    private readonly ContainerFactory _factory;
    private readonly StateStore _states;

    /// <summary>Inits restored by CRIU on our behalf: they are our children (CRIU's rst_sibling), and a
    /// thread per init waits for each and records its exit as a shim would.</summary>

    private readonly ConcurrentDictionary<string, ICgroupManager> _cgroups = new(StringComparer.Ordinal);

    /// <summary>The sealed shim copy all shims of this process start from (null if the shim was not found yet).</summary>
    private readonly SharedShimImage? _shimImage;

    public LinuxContainerRuntime(RuntimeOptions options)
    {
        _shimImage = ShareShim(options);
        _factory = new ContainerFactory(_shimImage is null ? options : options with { ShimPath = _shimImage.ExecPath });
        _states = new StateStore(options.StateRoot);
    }

    /// <summary>
    /// A daemon starts many long-lived shims; from one shared sealed copy their executable pages are in
    /// memory once instead of once per shim (see <see cref="SharedShimImage"/>). Without a shim binary
    /// the options stay as they are, and the first start reports the missing shim.
    /// </summary>
    private static SharedShimImage? ShareShim(RuntimeOptions options)
    {
        try
        {
            return SharedShimImage.Create(options.ResolveShimPath());
        }
        catch (Exception e) when (e is RuntimeException or IOException or UnauthorizedAccessException or SyscallException)
        {
            return null;
        }
    }

    public string StateRoot => _factory.Options.StateRoot;

    public IReadOnlyList<string> ListIds() => _factory.List().Select(c => c.Id).ToList();

    public ContainerSnapshot? Inspect(string id)
    {
        if (!_factory.Exists(id))
            return null;
        try
        {
            return Snapshot(_factory.Load(id));
        }
        catch (ContainerNotFoundException)
        {
            return null;
        }
        catch (IOException) when (!_factory.Exists(id))
        {
            // Deleted while it was being read.
            return null;
        }
    }

    private ContainerSnapshot Snapshot(Container c)
    {
        var st = c.ReadState() ?? throw new ContainerNotFoundException(c.Id);
        var status = c.Status;
        bool disowned = false;
        if (status is ContainerStatus.Running or ContainerStatus.Paused or ContainerStatus.Created && !InitInOwnCgroup(c, st.InitPid))
        {
            // A pid with the recorded start time that is not in the container's cgroup is some other process
            // (the state file was forged or is stale). The pid is dropped from the state, so that no later
            // kill or delete, ours or the CLI's, can signal that process.
            _states.Write(st with { InitPid = 0, InitStartTime = 0, Paused = false });
            status = ContainerStatus.Stopped;
            disowned = true;
        }
        ExitReport? exit = null;
        if (status == ContainerStatus.Stopped)
            exit = (disowned ? null : ReadExit(c, st.InitPid)) ?? ExitReport.Unknown(st.InitPid, DateTimeOffset.UtcNow);
        return new ContainerSnapshot(c.Id, st.Bundle, status, st.InitPid, st.InitStartTime, st.ShimPid, st.ShimStartTime, exit, disowned);
    }

    /// <summary>
    /// The container's init always sits in the container's own cgroup (it joins before execve, and a
    /// restored one is forked by a CRIU that was moved there). A cgroup that is gone or unreadable cannot
    /// vouch for the pid either.
    /// </summary>
    private static bool InitInOwnCgroup(Container c, int pid)
    {
        try
        {
            return c.Cgroups.Exists() && c.Cgroups.GetPids().Contains(pid);
        }
        catch (Exception e) when (e is IOException or CgroupException or UnauthorizedAccessException or RuntimeException)
        {
            return false;
        }
    }

    private static ExitReport? ReadExit(Container c, int pid)
    {
        var rec = c.ExitStatus;
        if (rec is null)
            return null;
        return new ExitReport(rec.Pid == 0 ? pid : rec.Pid, rec.ExitCode, rec.Signal, OomKilledIn(c), rec.FinishedAt ?? DateTimeOffset.UtcNow);
    }

    /// <summary>The memory cgroup's oom_kill counter (v1 memory.oom_control, v2 memory.events) is the kernel's
    /// own account of OOM kills in this container, so it is read instead of racing the OOM notification.</summary>
    private static bool OomKilledIn(Container c)
    {
        try
        {
            var dir = c.Cgroups.Path("memory");
            if (dir is null)
                return false;
            var v1 = Path.Combine(dir, "memory.oom_control");
            if (File.Exists(v1))
                return OomNotifier.ParseOomControl(File.ReadAllText(v1)).OomKill > 0;
            var v2 = Path.Combine(dir, "memory.events");
            if (File.Exists(v2))
                return OomNotifier.ParseMemoryEvents(File.ReadAllText(v2)).GetValueOrDefault("oom_kill") > 0;
        }
        catch (Exception e) when (e is IOException or CgroupException or UnauthorizedAccessException)
        {
        }
        return false;
    }

    private static ContainerConfig LoadConfig(string bundle)
    {
        var config = SpecConverter.Convert(SpecLoader.LoadBundle(bundle), bundle);
        // A terminal needs a console socket to hand the pty master to, and someone to hold it for the
        // container's whole life; a daemon has neither, so such a bundle is refused up front instead of
        // starting a container that hangs on its tty.
        if (config.Process.Terminal)
            throw new ConfigException(TerminalRefusal(bundle));
        return config;
    }

    /// <summary>The one-line reason a bundle with process.terminal = true is refused.</summary>
    public static string TerminalRefusal(string bundle) =>
        $"bundle {bundle}: process.terminal = true needs a console socket, which the daemon does not have; set it to false (output goes to {ConsoleLogName})";

    public ContainerSnapshot Create(string id, string bundle) => Init(id, bundle, start: false);

    public ContainerSnapshot Run(string id, string bundle) => Init(id, bundle, start: true);

    private ContainerSnapshot Init(string id, string bundle, bool start)
    {
        _cgroups.TryRemove(id, out _);
        var config = LoadConfig(bundle);
        var container = _factory.Create(id, bundle, config);
        using var devNull = File.OpenHandle("/dev/null", FileMode.Open, FileAccess.Read);
        SafeHandleLog? log = null;
        try
        {
            log = SafeHandleLog.Open(Path.Combine(container.StateDir, ConsoleLogName));
            var io = new ProcessIo { Stdin = (int)devNull.DangerousGetHandle(), Stdout = log.Fd, Stderr = log.Fd };
            using var process = start ? container.Run(io) : container.Init(io, waitStart: true);
            process.Detach();
        }
        catch
        {
            log?.Dispose();
            // Init removes the state directory on failure; a failure before it (the log) leaves the reserved one.
            if (Directory.Exists(container.StateDir) && !_factory.Exists(id))
                Directory.Delete(container.StateDir, recursive: true);
            throw;
        }
        log.Dispose();
        return Snapshot(_factory.Load(id));
    }

    public ContainerSnapshot Start(string id)
    {
        var c = _factory.Load(id);
        c.Start();
        return Snapshot(c);
    }

    public void Signal(string id, int signal, bool all) => _factory.Load(id).Signal(signal, all);

    public void Pause(string id) => _factory.Load(id).Pause();

    public void Resume(string id) => _factory.Load(id).Resume();

    /// <summary>
    /// The cgroup statistics alone: a poller asks for them every interval for every container, so the cgroup
    /// manager is kept per container instead of re-reading state.json (and the network counters, which the
    /// supervisor does not publish) each time. Every operation that may give the container new cgroups
    /// drops the cached manager.
    /// </summary>
    public CgroupStats Stats(string id)
    {
        if (!_cgroups.TryGetValue(id, out var manager))
            _cgroups[id] = manager = _factory.Load(id).Cgroups;
        try
        {
            return manager.GetStats();
        }
        catch
        {
            _cgroups.TryRemove(id, out _);
            throw;
        }
    }

    public void Update(string id, Resources resources) => _factory.Load(id).Set(resources);

    public int Exec(string id, ProcessConfig process)
    {
        using var devNull = File.OpenHandle("/dev/null", FileMode.Open, FileAccess.ReadWrite);
        var fd = (int)devNull.DangerousGetHandle();
        var p = _factory.Load(id).Exec(process with { Terminal = false }, new ProcessIo { Stdin = fd, Stdout = fd, Stderr = fd });
        var pid = p.Pid;
        var shim = p.ShimPid;
        p.Detach();
        ReapWhenGone(shim);
        return pid;
    }

    public void Delete(string id, bool force)
    {
        _cgroups.TryRemove(id, out _);
        var c = _factory.Load(id);
        var st = c.ReadState();
        c.Delete(force);
        if (st is not null)
            ReapShim(st.ShimPid, st.ShimStartTime, TimeSpan.FromSeconds(2));
    }

    public void Checkpoint(string id, CheckpointSpec spec, CancellationToken cancel)
    {
        var c = _factory.Load(id);
        var options = new CriuOptions
        {
            ImagesDirectory = spec.ImagePath,
            WorkDirectory = spec.WorkPath,
            LeaveRunning = spec.LeaveRunning,
        };
        CancelKillsCriu(cancel, () => c.Checkpoint(options));
    }

    public ContainerSnapshot Restore(string id, string bundle, CheckpointSpec spec, CancellationToken cancel)
    {
        _cgroups.TryRemove(id, out _);
        var container = _factory.Exists(id) ? _factory.Load(id) : _factory.Create(id, bundle, LoadConfig(bundle));
        var options = new CriuOptions { ImagesDirectory = spec.ImagePath, WorkDirectory = spec.WorkPath };
        // The restored init gets back the stdio it was dumped with: CRIU reconnects the external files it
        // recorded (the host's /dev/null and the console log) to these descriptors.
        using var devNull = File.OpenHandle("/dev/null", FileMode.Open, FileAccess.Read);
        using var log = SafeHandleLog.Open(Path.Combine(container.StateDir, ConsoleLogName));
        var io = new ProcessIo { Stdin = (int)devNull.DangerousGetHandle(), Stdout = log.Fd, Stderr = log.Fd };
        RestoredProcess? process = null;
        try
        {
            CancelKillsCriu(cancel, () => process = container.Restore(io, options));
        }
        catch
        {
            // A migration that failed leaves no container behind (Restore has undone the rest).
            if (!_factory.Exists(id) && Directory.Exists(container.StateDir))
                Directory.Delete(container.StateDir, recursive: true);
            throw;
        }
        // The restored init runs under its own shim (restore mode), which records its exit.json like any
        // other container's; the exit watch reads it, so the session only has to let go.
        process!.Detach();
        return Snapshot(_factory.Load(id));
    }

    /// <summary>
    /// Runs a CRIU call on this thread and kills CRIU when <paramref name="cancel"/> fires. CRIU is spawned
    /// (posix_spawn, a vfork) by the calling thread, so it is listed in this thread's own
    /// /proc/self/task/TID/children, which tells it apart from a CRIU that another container's job runs.
    /// The cancellation may come before CRIU exists, so the kill is retried until the call returns.
    /// Killing CRIU makes the kernel detach its ptrace from the dumped tasks, which then run on; CRIU kills
    /// a tree it dumped (without leave-running) only after the dump is complete.
    /// </summary>
    private static void CancelKillsCriu(CancellationToken cancel, Action call)
    {
        cancel.ThrowIfCancellationRequested();
        var tid = CurrentThreadId();
        using var returned = new CancellationTokenSource();
        var token = returned.Token;
        Task? killer = null;
        using (cancel.Register(() => killer = Task.Run(async () =>
        {
            while (!token.IsCancellationRequested)
            {
                KillCriuChildren(tid);
                try
                {
                    await Task.Delay(20, token);
                }
                catch (OperationCanceledException)
                {
                }
            }
        })))
        {
            try
            {
                call();
            }
            finally
            {
                returned.Cancel();
                killer?.Wait();
            }
        }
    }

    private static int CurrentThreadId()
    {
        // /proc/thread-self -> "PID/task/TID"
        var link = new DirectoryInfo("/proc/thread-self").LinkTarget ?? throw new IOException("/proc/thread-self is not a link");
        return int.Parse(link[(link.LastIndexOf('/') + 1)..], CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// Kills the <c>criu swrk</c> processes this thread started: its own children for a dump, and the
    /// children of its restore-mode shim for a restore (the shim runs criu so that the restored tree is
    /// reparented to it). They are matched by their command line: the criu path may be a wrapper script
    /// that execs a loader, so /proc/PID/exe does not name criu. Restored tasks carry their own command line.
    /// </summary>
    private static void KillCriuChildren(int tid)
    {
        foreach (var pid in Children($"/proc/self/task/{tid}/children"))
        {
            KillIfCriu(pid);
            foreach (var grandchild in Children($"/proc/{pid}/task/{pid}/children"))
                KillIfCriu(grandchild);
        }
    }

    private static IEnumerable<int> Children(string path)
    {
        string children;
        try
        {
            children = File.ReadAllText(path);
        }
        catch (IOException)
        {
            yield break;
        }
        foreach (var field in children.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            if (int.TryParse(field, NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
                yield return pid;
    }

    private static void KillIfCriu(int pid)
    {
        string[] argv;
        try
        {
            argv = File.ReadAllText($"/proc/{pid}/cmdline").Split('\0');
        }
        catch (IOException)
        {
            return;
        }
        if (!argv.Contains("swrk"))
            return;
        try
        {
            Syscalls.Kill(pid, Syscalls.SIGKILL);
        }
        catch (SyscallException e) when (e.Errno == Errno.ESRCH)
        {
        }
    }

    public IDisposable WatchExit(ContainerSnapshot snapshot, Action<ExitReport> onExit) =>
        new ExitWatch(this, snapshot, onExit);

    public IDisposable WatchOom(string id, Action<DateTimeOffset> onOom)
    {
        var notifier = _factory.Load(id).NotifyOom();
        var cts = new CancellationTokenSource();
        _ = Task.Run(async () =>
        {
            try
            {
                await foreach (var e in notifier.ReadAllAsync(cts.Token))
                    onOom(e.Time);
            }
            catch (Exception e) when (e is OperationCanceledException or SyscallException or CgroupException or IOException)
            {
                // The watch ends with the cgroup; the exit watch reports the container's end.
            }
        });
        return new Disposer(() =>
        {
            cts.Cancel();
            notifier.Dispose();
            cts.Dispose();
        });
    }

    /// <summary>
    /// Reaps a shim that is our child once it exits. A shim of an earlier daemon is not our child (ECHILD)
    /// and is left alone; so is one that is not ours to reap at all.
    /// </summary>
    private static void ReapShim(int shimPid, ulong shimStart, TimeSpan wait)
    {
        if (shimPid <= 0)
            return;
        ProcStat.WaitExited(shimPid, shimStart, wait);
        TryReap(shimPid);
    }

    private static void TryReap(int pid)
    {
        try
        {
            Syscalls.WaitPid(pid, Syscalls.WNOHANG);
        }
        catch (SyscallException e) when (e.Errno == Errno.ECHILD)
        {
        }
    }

    /// <summary>An exec shim lives as long as its process; a thread blocks on its pidfd and reaps it.</summary>
    private static void ReapWhenGone(int shimPid)
    {
        Microsoft.Win32.SafeHandles.SafeFileHandle pidfd;
        try
        {
            pidfd = Syscalls.PidfdOpen(shimPid);
        }
        catch (SyscallException e) when (e.Errno == Errno.ESRCH)
        {
            TryReap(shimPid);
            return;
        }
        var thread = new Thread(() =>
        {
            using (pidfd)
                FdPoll.WaitReadable([(int)pidfd.DangerousGetHandle()], -1);
            TryReap(shimPid);
        })
        {
            IsBackground = true,
            Name = "reap " + shimPid,
        };
        thread.Start();
    }

    /// <summary>
    /// Polls the init's pidfd on a dedicated thread (one per container; a blocking poll must not sit on the
    /// thread pool that runs the actors). After the exit it waits for the shim's exit.json, then reaps the shim.
    /// </summary>
    private sealed class ExitWatch : IDisposable
    {
        /// <summary>
        /// The watch thread only polls and reads a small file; the default 8 MiB stack (ulimit -s) would
        /// leave each of a daemon's hundreds of watch threads with more touched stack than the work needs.
        /// </summary>
        private const int WatchStackSize = 256 * 1024;

        private readonly EventFd _wake = EventFd.Create();
        private readonly LinuxContainerRuntime _runtime;
        private readonly ContainerSnapshot _snapshot;
        private readonly Action<ExitReport> _onExit;
        // The eventfd is closed by the watch thread when it ends; the gate keeps Dispose from signalling a
        // closed descriptor whose number may already belong to another file.
        private readonly object _gate = new();
        private bool _closed;
        private int _disposed;

        public ExitWatch(LinuxContainerRuntime runtime, ContainerSnapshot snapshot, Action<ExitReport> onExit)
        {
            _runtime = runtime;
            _snapshot = snapshot;
            _onExit = onExit;
            new Thread(Run, WatchStackSize) { IsBackground = true, Name = "pidfd " + snapshot.Id }.Start();
        }

        private void Run()
        {
            try
            {
                Watch();
            }
            catch (Exception e) when (e is SyscallException or IOException or UnauthorizedAccessException or RuntimeException)
            {
                // The watch cannot go on (e.g. no pidfd). An exception on this thread would take the whole
                // daemon down, and a guessed exit could restart a live container; the actor's reconcile
                // tick compares the state root with what it watches and notices the exit instead.
            }
        }

        private void Watch()
        {
            try
            {
                if (!WaitInitExit())
                    return;
                var deadline = DateTime.UtcNow + ExitRecordWait;
                ExitReport? report = null;
                while (Volatile.Read(ref _disposed) == 0)
                {
                    try
                    {
                        report = ReadExit(_runtime._factory.Load(_snapshot.Id), _snapshot.InitPid);
                    }
                    catch (Exception e) when (e is RuntimeException or IOException or UnauthorizedAccessException)
                    {
                        // Deleted meanwhile (by us or with the CLI): the exit status is unknown.
                        break;
                    }
                    // The exit is recorded by the shim (restored containers have one too).
                    var recorder = _snapshot.ShimPid > 0 && ProcStat.IsAlive(_snapshot.ShimPid, _snapshot.ShimStartTime);
                    if (report is not null || !recorder || DateTime.UtcNow > deadline)
                        break;
                    Thread.Sleep(10);
                }
                if (Volatile.Read(ref _disposed) != 0)
                    return;
                _onExit(report ?? ExitReport.Unknown(_snapshot.InitPid, DateTimeOffset.UtcNow));
                ReapShim(_snapshot.ShimPid, _snapshot.ShimStartTime, TimeSpan.FromSeconds(5));
            }
            finally
            {
                lock (_gate)
                {
                    _closed = true;
                    _wake.Dispose();
                }
            }
        }

        private bool WaitInitExit()
        {
            Microsoft.Win32.SafeHandles.SafeFileHandle pidfd;
            try
            {
                pidfd = Syscalls.PidfdOpen(_snapshot.InitPid);
            }
            catch (SyscallException e) when (e.Errno == Errno.ESRCH)
            {
                return true;
            }
            using (pidfd)
            {
                // The pid may have been reused between reading state.json and opening the pidfd: only a
                // process with the recorded start time is our init.
                if (!ProcStat.IsAlive(_snapshot.InitPid, _snapshot.InitStartTime))
                    return true;
                var fds = new[] { (int)pidfd.DangerousGetHandle(), _wake.Fd };
                while (true)
                {
                    var ready = FdPoll.WaitReadable(fds, -1);
                    if (ready[1] || Volatile.Read(ref _disposed) != 0)
                        return false;
                    if (ready[0])
                        return true;
                }
            }
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0)
                return;
            lock (_gate)
            {
                if (!_closed)
                    _wake.Signal();
            }
        }
    }

    private sealed class Disposer(Action dispose) : IDisposable
    {
        private int _done;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0)
                dispose();
        }
    }

    /// <summary>An append-only log file whose descriptor is handed to the container.</summary>
    private sealed class SafeHandleLog : IDisposable
    {
        private readonly Microsoft.Win32.SafeHandles.SafeFileHandle _handle;

        private SafeHandleLog(Microsoft.Win32.SafeHandles.SafeFileHandle handle) => _handle = handle;

        public int Fd => (int)_handle.DangerousGetHandle();

        public static SafeHandleLog Open(string path) =>
            new(File.OpenHandle(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite));

        public void Dispose() => _handle.Dispose();
    }
}
