using System.Text;
using System.Text.Json;
using Supervisor.Linux;
using Supervisor.Linux.Shim;
using Supervisor.Runtime.Cgroups;
using Supervisor.Runtime.Configs;
using Supervisor.Runtime.Hooks;
using Supervisor.Runtime.Rootfs;
using Supervisor.Runtime.Spawn;
using Supervisor.Runtime.State;
using Supervisor.Runtime.Users;

namespace Supervisor.Runtime;

/// <summary>
/// One container (libcontainer's Container, reference §1.2). Its status is always derived from the live
/// init process (pid plus start time, so a reused pid is never mistaken for it) and from state.json,
/// never cached, because other processes (another CLI call, the daemon) act on the same container.
/// </summary>
public sealed partial class Container
{
    private const int SIGKILL = 9;
    private readonly ContainerFactory _factory;
    private StateFile? _state;
    private ICgroupManager? _cgroups;

    internal Container(ContainerFactory factory, string id, string bundle, ContainerConfig config, string stateDir, StateFile? state)
    {
        _factory = factory;
        Id = id;
        Bundle = bundle;
        Config = config;
        StateDir = stateDir;
        _state = state;
    }

    public string Id { get; }
    public string Bundle { get; }
    public ContainerConfig Config { get; }
    public string StateDir { get; }

    private StateStore Store => _factory.Store;

    /// <summary>The container's cgroups (created by Init; loaded from state.json afterwards).</summary>
    public ICgroupManager Cgroups => _cgroups ??= _state is { } s && (s.CgroupPaths.Count > 0 || _factory.Options.Rootless)
        ? CgroupManager.Create(_factory.Layout, s.CgroupPaths)
        : _factory.CgroupsFor(Config.Cgroups.Path, Id);

    /// <summary>The persisted record, re-read so that changes made by other processes are seen.</summary>
    public StateFile? ReadState()
    {
        if (!Store.Exists(Id))
            return _state = null;
        return _state = Store.Read(Id);
    }

    public ContainerStatus Status => ComputeStatus(ReadState());

    private static ContainerStatus ComputeStatus(StateFile? st)
    {
        if (st is null || st.InitPid == 0)
            return ContainerStatus.Stopped;
        if (!ProcStat.IsAlive(st.InitPid, st.InitStartTime))
            return st.Checkpointed ? ContainerStatus.Checkpointed : ContainerStatus.Stopped;
        if (st.Paused)
            return ContainerStatus.Paused;
        return st.Started ? ContainerStatus.Running : ContainerStatus.Created;
    }

    public ExitRecord? ExitStatus => Store.ReadExit(Id);

    /// <summary>The OCI state document (runtime-spec state plus runc's rootfs/created/owner fields).</summary>
    public OciState State()
    {
        var st = ReadState() ?? throw new ContainerNotFoundException(Id);
        var status = ComputeStatus(st);
        return new OciState
        {
            OciVersion = st.Config.OciVersion,
            Id = Id,
            Status = status.ToOci(),
            Pid = status is ContainerStatus.Stopped or ContainerStatus.Checkpointed ? 0 : st.InitPid,
            Bundle = st.Bundle,
            Rootfs = st.Rootfs,
            Created = st.Created,
            Owner = st.Owner,
            Annotations = st.Config.Annotations.Count > 0 ? st.Config.Annotations : null,
            ExitCode = status == ContainerStatus.Stopped ? Store.ReadExit(Id)?.ExitCode : null,
        };
    }

    /// <summary>
    /// Creates the init process (runc's create): cgroups with their limits, then the shim, which clones
    /// the init into its namespaces and holds it until the parent-side work is done (joining the cgroups,
    /// writing the uid/gid maps, prestart hooks), then lets it set up the rootfs and stop just before
    /// execve. With <paramref name="waitStart"/> false the init runs straight on. On any failure
    /// everything is undone: process, cgroups and the state directory.
    /// </summary>
    public ContainerProcess Init(ProcessIo io, bool waitStart = true)
    {
        if (_state is not null)
            throw new InvalidContainerStateException($"container {Id} already has an init process");
        var config = Config;
        ShimSession? shim = null;
        ICgroupManager? cgroups = null;
        int pid = 0;
        // The first serialization through a source-generated JSON context builds its metadata (a few ms
        // in a NativeAOT process); doing that now on another core overlaps it with the container setup
        // instead of adding it to the time before state.json is written.
        ThreadPool.UnsafeQueueUserWorkItem(static _ => RuntimeJson.Warm(), null);
        try
        {
            var user = ResolveUser(config.Rootfs, config.Process.User);
            cgroups = _factory.CgroupsFor(config.Cgroups.Path, Id);
            // Another container's processes in "our" cgroup would share its limits and be killed with it
            // (runc: "container's cgroup is not empty").
            if (cgroups.Exists() && cgroups.GetPids().Count > 0)
            {
                var taken = cgroups;
                cgroups = null;
                throw new RuntimeException($"container's cgroup is not empty: {taken.Paths.Values.FirstOrDefault()}");
            }
            if (_factory.Options.Rootless && cgroups.Validate(config.Cgroups.Resources) is { Count: > 0 } problems)
            {
                cgroups = null;
                throw new RuntimeException($"rootless container: {problems[0]} (no cgroup delegated to uid {Syscalls.EffectiveUid})");
            }
            cgroups.Create(config.Cgroups.Resources);
            _cgroups = cgroups;

            var request = RequestBuilder.ForInit(config, user, Bundle, StateDir,
                CgroupMountSources.For(_factory.Layout, cgroups), waitStart: true, io.PreserveFds, CompileSeccomp);
            shim = ShimSession.Spawn(_factory.Options.ResolveShimPath(), request,
                new ShimStdio(io.Stdin, io.Stdout, io.Stderr));
            pid = shim.WaitChild();
            cgroups.Apply(pid);
            if (config.CreatesNamespace(NamespaceType.User))
                WriteIdMaps(pid, config, _factory.Options.Rootless);

            ProcStat.TryRead(pid, out _, out var initStart);
            ProcStat.TryRead(shim.ShimPid, out _, out var shimStart);
            var state = new StateFile
            {
                Id = Id,
                Bundle = Bundle,
                Rootfs = config.Rootfs,
                Created = DateTimeOffset.UtcNow,
                InitPid = pid,
                InitStartTime = initStart,
                ShimPid = shim.ShimPid,
                ShimStartTime = shimStart,
                CgroupPaths = new Dictionary<string, string>(cgroups.Paths),
                NamespacePaths = NamespacePathsOf(config, pid),
                Config = config,
            };
            HookRunner.Run("prestart", config.Hooks.Prestart, HookState(state, "creating"));
            HookRunner.Run("createRuntime", config.Hooks.CreateRuntime, HookState(state, "creating"));
            shim.Go();
            shim.WaitReady();
            RunContainerHooks("createContainer", config.Hooks.CreateContainer, state, "created");
            _state = state;
            // A created container is recorded now; a run (create and start at once) is recorded once,
            // after execve, as running: one atomic write less on the start-up path.
            if (waitStart)
                Store.Write(state);
            else
                StartWith(shim);
            return new ContainerProcess(shim, pid);
        }
        catch
        {
            Undo(shim, pid, cgroups);
            throw;
        }
    }

    /// <summary>Releases a created init to execve (runc's start).</summary>
    public void Start()
    {
        var st = ReadState() ?? throw new ContainerNotFoundException(Id);
        var status = ComputeStatus(st);
        if (status != ContainerStatus.Created)
            throw new InvalidContainerStateException($"cannot start a container that is {status.ToOci()}");
        try
        {
            RunContainerHooks("startContainer", st.Config.Hooks.StartContainer, st, "created");
        }
        catch (HookException)
        {
            // runtime-spec: a failed startContainer hook stops the container; the user process never runs.
            _state = st;
            KillAll();
            throw;
        }
        ShimControl.Start(StateDir, TimeSpan.FromSeconds(30));
        MarkStarted(st);
    }

    /// <summary>Create and start in one go (runc's run); the returned process is the init.</summary>
    public ContainerProcess Run(ProcessIo io) => Init(io, waitStart: false);

    private void StartWith(ShimSession shim)
    {
        RunContainerHooks("startContainer", Config.Hooks.StartContainer, _state!, "created");
        shim.Start();
        shim.WaitExeced();
        MarkStarted(_state!);
    }

    private void MarkStarted(StateFile st)
    {
        var started = st with { Started = true };
        Store.Write(started);
        _state = started;
        try
        {
            HookRunner.Run("poststart", Config.Hooks.Poststart, HookState(started, "running"));
        }
        catch (HookException)
        {
            // A failed poststart hook means the container must not keep running (runtime-spec).
            KillAll();
            throw;
        }
    }

    /// <summary>
    /// Starts another process inside the running container (runc's exec, reference §5.5): the shim, in
    /// exec mode, forks a child that joins the container's namespaces (user first) and forks again so that
    /// the process really is inside the pid namespace; the runtime puts it into the container's cgroups
    /// before it runs a single instruction of the workload.
    /// </summary>
    public ContainerProcess Exec(ProcessConfig process, ProcessIo io)
    {
        var st = ReadState() ?? throw new ContainerNotFoundException(Id);
        var status = ComputeStatus(st);
        if (status == ContainerStatus.Paused)
            throw new InvalidContainerStateException("cannot exec in a paused container");
        if (status is not (ContainerStatus.Running or ContainerStatus.Created))
            throw new InvalidContainerStateException($"cannot exec in a {status.ToOci()} container");
        var user = ResolveUser(st.Config.Rootfs, process.User);
        var namespaces = new List<(NamespaceType, string)>();
        foreach (var (name, path) in st.NamespacePaths)
        {
            if (NamespaceTypes.TryParseOci(name, out var type))
                namespaces.Add((type, path));
        }
        var request = RequestBuilder.ForExec(process, user, namespaces, st.Config.Seccomp, io.PreserveFds, CompileSeccomp);
        var shim = ShimSession.Spawn(_factory.Options.ResolveShimPath(), request, new ShimStdio(io.Stdin, io.Stdout, io.Stderr));
        int pid = 0;
        try
        {
            pid = shim.WaitChild();
            // The nsfs paths of created namespaces are /proc/<init>/ns/*: check the init is still the one
            // recorded, or the paths could name a new process that reused its pid.
            if (!ProcStat.IsAlive(st.InitPid, st.InitStartTime))
                throw new InvalidContainerStateException($"container {Id} stopped while exec was starting");
            Cgroups.Apply(pid);
            shim.Go();
            shim.WaitExeced();
            return new ContainerProcess(shim, pid);
        }
        catch
        {
            try { shim.Abort(); } catch (Exception e) when (e is ShimException or IOException or SyscallException) { }
            if (pid > 0)
                TryKill(pid, SIGKILL);
            try { shim.WaitShimExit(); } catch (Exception e) when (e is ShimException or SyscallException) { }
            shim.Dispose();
            throw;
        }
    }

    /// <summary>Sends a signal to the init, or with <paramref name="all"/> to every process of the container.</summary>
    public void Signal(int signal, bool all = false)
    {
        var st = ReadState() ?? throw new ContainerNotFoundException(Id);
        var status = ComputeStatus(st);
        if (all)
        {
            foreach (var p in SafePids())
                TryKill(p, signal);
            return;
        }
        if (status == ContainerStatus.Stopped)
            throw new InvalidContainerStateException("container not running");
        Syscalls.Kill(st.InitPid, signal);
    }

    /// <summary>Host pids of every process in the container's cgroups.</summary>
    public IReadOnlyList<int> Processes() => Cgroups.Paths.Count == 0 ? PidNamespaceMembers() : Cgroups.GetPids();

    /// <summary>
    /// A rootless container without a delegated cgroup has no task list, but its own pid namespace holds
    /// exactly its processes: every /proc entry whose ns/pid link names the init's namespace.
    /// </summary>
    private IReadOnlyList<int> PidNamespaceMembers()
    {
        var st = _state ?? ReadState();
        if (st is null || st.InitPid == 0 || !ProcStat.IsAlive(st.InitPid, st.InitStartTime) || !Config.CreatesNamespace(NamespaceType.Pid))
            return [];
        string? ns;
        try
        {
            ns = File.ResolveLinkTarget($"/proc/{st.InitPid}/ns/pid", returnFinalTarget: false)?.ToString();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [st.InitPid];
        }
        var pids = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid))
                continue;
            try
            {
                if (File.ResolveLinkTarget($"{dir}/ns/pid", returnFinalTarget: false)?.ToString() == ns)
                    pids.Add(pid);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }
        pids.Sort();
        return pids;
    }

    public void Pause()
    {
        var st = ReadState() ?? throw new ContainerNotFoundException(Id);
        var status = ComputeStatus(st);
        if (status is not (ContainerStatus.Running or ContainerStatus.Created))
            throw new InvalidContainerStateException($"container {Id} is not running: {status.ToOci()}");
        Cgroups.Freeze(_factory.Options.FreezeTimeout);
        Store.Write(st with { Paused = true });
    }

    public void Resume()
    {
        var st = ReadState() ?? throw new ContainerNotFoundException(Id);
        if (ComputeStatus(st) != ContainerStatus.Paused)
            throw new InvalidContainerStateException($"container {Id} is not paused");
        Cgroups.Thaw(_factory.Options.FreezeTimeout);
        Store.Write(st with { Paused = false });
    }

    /// <summary>The container's cgroup statistics plus the interface counters of its network namespace.</summary>
    public (CgroupStats Cgroups, IReadOnlyList<NetworkInterfaceStats> Interfaces) Stats()
    {
        var st = ReadState() ?? throw new ContainerNotFoundException(Id);
        var cgroupStats = Cgroups.GetStats();
        var net = ComputeStatus(st) == ContainerStatus.Stopped
            ? (IReadOnlyList<NetworkInterfaceStats>)[]
            : Supervisor.Runtime.Stats.NetDevParser.ReadForPid(st.InitPid);
        return (cgroupStats, net);
    }

    /// <summary>
    /// Changes the container's resource limits live (runc's update): the whole update is validated first,
    /// so an invalid value writes nothing; then the cgroup files change and state.json is rewritten
    /// atomically with the merged resources.
    /// </summary>
    public void Set(Resources update)
    {
        var st = ReadState() ?? throw new ContainerNotFoundException(Id);
        if (ComputeStatus(st) == ContainerStatus.Stopped)
            throw new InvalidContainerStateException($"container {Id} is not running");
        var merged = Supervisor.Runtime.Stats.ResourcesMerge.Merge(st.Config.Cgroups.Resources, update);
        var problems = Cgroups.Validate(merged);
        if (problems.Count > 0)
            throw new RuntimeException("invalid resources: " + string.Join("; ", problems));
        Cgroups.Set(update);
        var config = st.Config with { Cgroups = st.Config.Cgroups with { Resources = merged } };
        var updated = st with { Config = config };
        Store.Write(updated);
        _state = updated;
    }

    /// <summary>OOM kills in the container's memory cgroup, until the cgroup goes away.</summary>
    public IOomNotifier NotifyOom() => OomNotifier.Open(Cgroups);

    /// <summary>
    /// Removes the container: its processes (only with <paramref name="force"/> when it is running or
    /// paused, as runc), its cgroups, then the poststop hooks and the state directory.
    /// </summary>
    public void Delete(bool force = false)
    {
        var st = ReadState();
        var status = ComputeStatus(st);
        if (status is ContainerStatus.Running or ContainerStatus.Paused && !force)
            throw new InvalidContainerStateException($"cannot delete container {Id} that is not stopped: {status.ToOci()}");
        KillAll();
        if (st is not null)
        {
            WaitGone(st.InitPid, st.InitStartTime, TimeSpan.FromSeconds(10));
            // The shim writes exit.json into the state directory after it reaps the init; removing the
            // directory while it does so fails ("directory not empty") or leaves the record behind.
            if (st.ShimPid > 0)
                WaitGone(st.ShimPid, st.ShimStartTime, TimeSpan.FromSeconds(10));
        }
        WaitCgroupEmpty(TimeSpan.FromSeconds(10));
        Cgroups.Destroy();
        if (st is not null)
        {
            try
            {
                HookRunner.Run("poststop", st.Config.Hooks.Poststop, HookState(st, "stopped"));
            }
            finally
            {
                Store.Remove(Id);
            }
        }
        else
        {
            Store.Remove(Id);
        }
    }

    /// <summary>
    /// SIGKILL to every process. The cgroup is frozen first so that nothing can fork a child between the
    /// listing of the pids and the kill (runc's signalAllProcesses on v1), then thawed so the kills land.
    /// Without a pid namespace the init's death would not take the others with it, so this matters.
    /// </summary>
    private void KillAll()
    {
        var st = _state;
        bool frozen = false;
        try
        {
            // An empty cgroup (the usual case once a pid-namespaced init has exited) has nothing to freeze.
            if (Cgroups.Exists() && Cgroups.GetPids().Count > 0)
            {
                Cgroups.Freeze(_factory.Options.FreezeTimeout);
                frozen = true;
            }
        }
        catch (Exception e) when (e is RuntimeException or IOException or SyscallException)
        {
            // A freezer that cannot freeze (e.g. the cgroup is going away) must not stop the kill.
        }
        foreach (var p in SafePids())
            TryKill(p, SIGKILL);
        if (st is not null && ProcStat.IsAlive(st.InitPid, st.InitStartTime))
            TryKill(st.InitPid, SIGKILL);
        if (frozen)
        {
            try
            {
                Cgroups.Thaw(_factory.Options.FreezeTimeout);
            }
            catch (Exception e) when (e is RuntimeException or IOException or SyscallException)
            {
            }
        }
    }

    private IReadOnlyList<int> SafePids()
    {
        try
        {
            if (Cgroups.Paths.Count == 0)
                return PidNamespaceMembers();
            return Cgroups.Exists() ? Cgroups.GetPids() : [];
        }
        catch (Exception e) when (e is RuntimeException or IOException or SyscallException)
        {
            return [];
        }
    }

    private static void TryKill(int pid, int signal)
    {
        try
        {
            Syscalls.Kill(pid, signal);
        }
        catch (SyscallException e) when (e.Errno == Errno.ESRCH)
        {
        }
    }

    /// <summary>
    /// Killed tasks leave the cgroup only once the kernel has torn them down, which on a busy machine can
    /// take longer than rmdir's own retries; a cgroup with tasks cannot be removed (EBUSY).
    /// </summary>
    private void WaitCgroupEmpty(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        IReadOnlyList<int> left;
        while ((left = SafePids()).Count > 0 && DateTime.UtcNow < deadline)
        {
            foreach (var p in left)
                TryKill(p, SIGKILL);
            Thread.Sleep(10);
        }
    }

    private static void WaitGone(int pid, ulong startTime, TimeSpan timeout) => ProcStat.WaitExited(pid, startTime, timeout);

    private void Undo(ShimSession? shim, int pid, ICgroupManager? cgroups)
    {
        if (shim is not null)
        {
            try { shim.Abort(); } catch (Exception e) when (e is ShimException or IOException or SyscallException) { }
            if (pid > 0)
                TryKill(pid, SIGKILL);
            try { shim.WaitShimExit(); } catch (Exception e) when (e is ShimException or SyscallException) { }
            shim.Dispose();
        }
        if (cgroups is not null)
        {
            try
            {
                foreach (var p in cgroups.Exists() ? cgroups.GetPids() : [])
                    TryKill(p, SIGKILL);
                cgroups.Destroy();
            }
            catch (Exception e) when (e is RuntimeException or IOException or SyscallException)
            {
            }
        }
        try
        {
            Store.Remove(Id);
        }
        catch (IOException)
        {
        }
        _state = null;
    }

    private ShimSeccomp CompileSeccomp(SeccompConfig config) =>
        Supervisor.Runtime.Seccomp.SeccompCache.GetOrCompile(config, Path.Combine(Store.Root, "seccomp:cache"));

    /// <summary>
    /// The process identity: a "user[:group]" name is looked up in the container's own /etc/passwd and
    /// /etc/group; numeric ids are taken as "uid:gid", so the configured gid wins over the passwd one and
    /// only additionalGids are added (the passwd lookup still supplies HOME).
    /// </summary>
    private static ExecUser ResolveUser(string rootfs, UserConfig user)
    {
        var spec = string.IsNullOrEmpty(user.Username) ? $"{user.Uid}:{user.Gid}" : user.Username;
        return UserResolver.ResolveInRootfs(rootfs, spec, user.Uid, user.Gid, user.AdditionalGids);
    }

    /// <summary>
    /// Writes the user namespace maps of the new init. Only a process in the parent user namespace with
    /// CAP_SETUID/CAP_SETGID may do this, which is why the shim's child waits for it; each map must be
    /// written with a single write(2).
    /// </summary>
    private static void WriteIdMaps(int pid, ContainerConfig config, bool rootless)
    {
        // An unprivileged writer may only write gid_map once setgroups(2) is disabled in the namespace:
        // otherwise container root could drop a supplementary group the host uses to deny it access.
        if (rootless)
            WriteProcFile($"/proc/{pid}/setgroups", "deny");
        WriteMap($"/proc/{pid}/gid_map", config.GidMappings);
        WriteMap($"/proc/{pid}/uid_map", config.UidMappings);
    }

    private static void WriteMap(string path, IReadOnlyList<IdMap> maps)
    {
        var sb = new StringBuilder();
        foreach (var m in maps)
            sb.Append(m.ContainerId).Append(' ').Append(m.HostId).Append(' ').Append(m.Size).Append('\n');
        WriteProcFile(path, sb.ToString());
    }

    private static void WriteProcFile(string path, string text)
    {
        var bytes = Encoding.ASCII.GetBytes(text);
        try
        {
            using var fs = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, bufferSize: 0);
            fs.Write(bytes);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new RuntimeException($"write {path}: {e.Message}", e);
        }
    }

    private static Dictionary<string, string> NamespacePathsOf(ContainerConfig config, int pid)
    {
        var paths = new Dictionary<string, string>();
        foreach (var ns in config.Namespaces)
            paths[ns.Type.OciName()] = string.IsNullOrEmpty(ns.Path) ? $"/proc/{pid}/ns/{ns.Type.ProcFile()}" : ns.Path;
        return paths;
    }

    /// <summary>Hooks that run inside the container's namespaces (see <see cref="ContainerHookRunner"/>).</summary>
    private void RunContainerHooks(string kind, IReadOnlyList<Hook> hooks, StateFile st, string status)
    {
        if (hooks.Count == 0)
            return;
        var namespaces = new List<(NamespaceType, string)>();
        foreach (var (name, path) in st.NamespacePaths)
        {
            if (NamespaceTypes.TryParseOci(name, out var type))
                namespaces.Add((type, path));
        }
        ContainerHookRunner.Run(kind, hooks, HookState(st, status), _factory.Options.ResolveShimPath(), namespaces);
    }

    private string HookState(StateFile st, string status)
    {
        var s = new OciState
        {
            OciVersion = st.Config.OciVersion,
            Id = Id,
            Status = status,
            Pid = st.InitPid,
            Bundle = st.Bundle,
            Annotations = st.Config.Annotations.Count > 0 ? st.Config.Annotations : null,
        };
        return JsonSerializer.Serialize(s, RuntimeJsonContext.Default.OciState);
    }
}
