using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Win32.SafeHandles;
using Supervisor.Criu;
using Supervisor.Linux;
using Supervisor.Linux.Criu;
using Supervisor.Linux.Interop;
using Supervisor.Linux.Shim;
using Supervisor.Runtime.Cgroups;
using Supervisor.Runtime.Configs;
using Supervisor.Runtime.Rootfs;
using Supervisor.Runtime.State;

namespace Supervisor.Runtime;

/// <summary>
/// Checkpoint and restore through CRIU (reference §4). A restore runs criu under a supervisor-shim in
/// restore mode: CRIU restores the init as a sibling of itself (rst_sibling), i.e. as the shim's child,
/// and the shim adopts it once the runtime names it. From then on the restored container is watched
/// exactly like a fresh one: the shim reaps the init, writes exit.json and exits with its code, and
/// state.json records the shim's pid and start time.
/// </summary>
public sealed partial class Container
{
    /// <summary>The init's stdio as CRIU names it in the images ("pipe:[1234]", "file[18:3]", "" for internal).</summary>
    public const string DescriptorsFile = "descriptors.json";
    private const string CriuRootDir = "criu-root";

    /// <summary>
    /// Dumps the container's process tree into the images directory. Without LeaveRunning (or PreDump)
    /// the processes are gone afterwards and the status is checkpointed until a restore or delete. A
    /// paused container is dumped through its frozen freezer cgroup and, with LeaveRunning, stays paused.
    /// On failure CRIU thaws the tasks and the container keeps running; the state is left as it was and
    /// the images are not marked complete (no descriptors.json), so a restore from them is refused.
    /// </summary>
    public void Checkpoint(CriuOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var st = ReadState() ?? throw new ContainerNotFoundException(Id);
        var status = ComputeStatus(st);
        if (status is not (ContainerStatus.Running or ContainerStatus.Paused))
            throw new InvalidContainerStateException($"cannot checkpoint a container that is {status.ToOci()}");
        var step = options.PreDump ? "pre-dump" : "dump";
        // A lazy dump leaves the memory behind a page server that serves it while the restore runs; the
        // runtime runs no page server, so it is refused here rather than ignored.
        if (options.LazyPages)
            throw new RuntimeException("criu lazy-pages checkpoint is not supported by this runtime (it needs a page server); LazyPages applies to restore only");
        var client = OpenCriu();
        // A pre-dump relies on the kernel's soft-dirty bits to know what changed before the final dump;
        // CRIU itself only says "Tracking memory is not available" deep in its log.
        if (options.PreDump && !client.CheckFeatures().MemTrack)
            throw new RuntimeException("criu pre-dump is not possible here: the kernel offers no memory dirty tracking (soft-dirty)");

        var images = Path.GetFullPath(options.ImagesDirectory ?? Path.Combine(StateDir, "criu.image"));
        var work = Path.GetFullPath(options.WorkDirectory ?? images);
        Directory.CreateDirectory(images);
        Directory.CreateDirectory(work);
        if (options.ParentImage is { Length: > 0 } parent)
        {
            var parentDir = Path.IsPathRooted(parent) ? parent : Path.Combine(images, parent);
            if (!Directory.Exists(parentDir))
                throw new RuntimeException($"parent images {parentDir} do not exist");
        }
        var descriptorsPath = Path.Combine(images, DescriptorsFile);
        File.Delete(descriptorsPath);
        var descriptors = StdioKeys(st.InitPid, out var externalFiles);
        options = options with { External = [.. options.External, .. externalFiles] };

        using var imagesFd = OpenDirectory(images);
        using var workFd = OpenDirectory(work);
        var target = new CriuDumpTarget(st.InitPid, st.Config.Rootfs, (int)imagesFd.DangerousGetHandle(),
            (int)workFd.DangerousGetHandle(), ExternalMounts(st.Config, Cgroups, forRestore: false))
        {
            FreezeCgroup = status == ContainerStatus.Paused ? Cgroups.Path("freezer") : null,
        };
        var request = CriuRequests.Dump(options, target, IptablesAvailable());
        var handler = new DumpNotifyHandler(this, st, options);
        var log = Path.Combine(work, options.PreDump ? CriuRequests.PreDumpLog : CriuRequests.DumpLog);
        try
        {
            client.Call(request, step, handler, null, null, log);
        }
        catch (CriuException e)
        {
            // A post-dump notification may have marked the container checkpointed before CRIU failed.
            if (handler.Marked)
                Store.Write(st);
            throw new RuntimeException(e.Message, e);
        }
        if (!options.PreDump)
            AtomicFile.Write(descriptorsPath, JsonSerializer.SerializeToUtf8Bytes(descriptors, CriuJsonContext.Default.ListString));
        if (handler.Marked)
        {
            // CRIU has killed the tree; the shim reaps the init, writes its exit record and exits on its
            // own. A restore must not start before that record is written, or it would outlive the
            // restore and describe the old init as the new one's end.
            WaitGone(st.InitPid, st.InitStartTime, TimeSpan.FromSeconds(10));
            if (st.ShimPid > 0)
                WaitGone(st.ShimPid, st.ShimStartTime, TimeSpan.FromSeconds(10));
        }
    }

    /// <summary>
    /// Recreates the container from CRIU images: its cgroups with the config's limits, the rootfs bound on
    /// &lt;state dir&gt;/criu-root, the config's bind and cgroup mounts declared external, then CRIU
    /// restores the tree (in fresh namespaces) with its stdio pipes reconnected to <paramref name="io"/>.
    /// The container is then running with the new pid, monitored by a supervisor-shim (the one that ran
    /// criu) as a fresh init would be. On failure nothing is left of the attempt: no shim, no criu, and a
    /// checkpointed container stays checkpointed, a new one (migration) leaves no state, cgroup or mount.
    /// </summary>
    public RestoredProcess Restore(ProcessIo io, CriuOptions options)
    {
        ArgumentNullException.ThrowIfNull(io);
        ArgumentNullException.ThrowIfNull(options);
        var prior = Store.Exists(Id) ? ReadState() : null;
        if (prior is not null && ComputeStatus(prior) != ContainerStatus.Checkpointed)
            throw new InvalidContainerStateException($"cannot restore into container {Id}: it is {ComputeStatus(prior).ToOci()}");
        var config = Config;
        ICgroupManager? cgroups = null;
        string criuRoot = Path.Combine(StateDir, CriuRootDir);
        bool mounted = false;
        int pid = 0;
        ShimHostedCriu? hosted = null;
        try
        {
            var client = OpenCriu();
            if (options.LazyPages && !client.CheckFeatures().LazyPages)
                throw new RuntimeException("criu lazy pages are not supported here (no userfaultfd support in this kernel or criu)");
            var images = Path.GetFullPath(options.ImagesDirectory ?? Path.Combine(StateDir, "criu.image"));
            var work = Path.GetFullPath(options.WorkDirectory ?? images);
            var descriptorsPath = Path.Combine(images, DescriptorsFile);
            if (!File.Exists(descriptorsPath))
                throw new RuntimeException($"no complete checkpoint in {images}: {DescriptorsFile} is missing (the dump did not finish)");
            var descriptors = JsonSerializer.Deserialize(File.ReadAllBytes(descriptorsPath), CriuJsonContext.Default.ListString) ?? [];
            Directory.CreateDirectory(work);

            cgroups = CgroupManager.ForContainer(_factory.Layout, config.Cgroups.Path, Id);
            if (cgroups.Exists() && cgroups.GetPids().Count > 0)
            {
                var taken = cgroups;
                cgroups = null;
                throw new RuntimeException($"container's cgroup is not empty: {taken.Paths.Values.FirstOrDefault()}");
            }
            cgroups.Create(config.Cgroups.Resources);
            _cgroups = cgroups;
            // A dump of a paused container leaves its (now empty) freezer cgroup frozen; criu joins the
            // cgroups before it forks the tree, so it would freeze itself. A restored container runs.
            if (cgroups.GetFreezerState() is FreezerState.Frozen or FreezerState.Freezing)
                cgroups.Thaw(_factory.Options.FreezeTimeout);

            // CRIU wants the root to be a mount point whose parent is not overmounted.
            Directory.CreateDirectory(criuRoot);
            BindMount.Recursive(config.Rootfs, criuRoot);
            mounted = true;

            var inherit = new List<(string, int)>();
            for (int i = 0; i < Math.Min(3, descriptors.Count); i++)
            {
                if (descriptors[i].Length > 0)
                    inherit.Add((descriptors[i], i));
            }
            using var imagesFd = OpenDirectory(images);
            using var workFd = OpenDirectory(work);
            var target = new CriuRestoreTarget(criuRoot, (int)imagesFd.DangerousGetHandle(), (int)workFd.DangerousGetHandle(),
                ExternalMounts(config, cgroups, forRestore: true))
            {
                InheritFds = inherit,
                OrphanPtsMaster = config.Process.Terminal,
            };
            var request = CriuRequests.Restore(options, target, IptablesAvailable());
            var handler = new RestoreNotifyHandler(config);
            var manager = cgroups;
            // The exit record of the dumped init (written by its shim when CRIU killed it) is history
            // now; from here on only the new shim writes one.
            File.Delete(Path.Combine(StateDir, StateStore.ExitFileName));
            var shimPath = _factory.Options.ResolveShimPath();
            var resp = client.Call(request, "restore", handler, new CriuStdio(io.Stdin, io.Stdout, io.Stderr),
                (criuPid, req) =>
                {
                    // The restored tasks are forked by CRIU, so they start in CRIU's cgroups: the
                    // container's, with CRIU told to map the dumped cgroups under them.
                    manager.Apply(criuPid);
                    CriuRequests.AddCgroupRoots(req.Opts, CriuRequests.ParseProcCgroup(File.ReadAllText($"/proc/{criuPid}/cgroup")));
                },
                Path.Combine(work, CriuRequests.RestoreLog),
                (criuPath, stdio) => hosted = ShimHostedCriu.Spawn(shimPath, criuPath, StateDir,
                    new ShimStdio(stdio.Stdin, stdio.Stdout, stdio.Stderr)));
            pid = handler.Pid != 0 ? handler.Pid : resp.Restore?.Pid ?? 0;
            if (pid <= 0)
                throw new RuntimeException("criu restore reported no pid for the restored init");
            var shim = hosted!.Session;
            shim.Adopt(pid);
            ProcStat.TryRead(pid, out _, out var start);
            ProcStat.TryRead(shim.ShimPid, out _, out var shimStart);
            var state = new StateFile
            {
                Id = Id,
                Bundle = Bundle,
                Rootfs = config.Rootfs,
                Created = prior?.Created ?? DateTimeOffset.UtcNow,
                Owner = prior?.Owner ?? "",
                InitPid = pid,
                InitStartTime = start,
                ShimPid = shim.ShimPid,
                ShimStartTime = shimStart,
                Started = true,
                CgroupPaths = new Dictionary<string, string>(cgroups.Paths),
                NamespacePaths = NamespacePathsOf(config, pid),
                Config = config,
            };
            Store.Write(state);
            _state = state;
            return new RestoredProcess(shim, pid, start, handler.PtyMaster);
        }
        catch (Exception e) when (e is CriuException or RuntimeException or IOException or SyscallException
            or UnauthorizedAccessException or ShimException or TimeoutException)
        {
            // The rootfs bind goes first: the undo may remove the state directory, and a recursive delete
            // must never reach the container's rootfs through it.
            if (mounted)
            {
                ReleaseCriuRoot(criuRoot);
                mounted = false;
            }
            UndoRestore(prior, cgroups, pid, hosted?.Session);
            if (e is CriuException)
                throw new RuntimeException(e.Message, e);
            throw;
        }
        finally
        {
            if (mounted)
                ReleaseCriuRoot(criuRoot);
            try { if (Directory.Exists(criuRoot)) Directory.Delete(criuRoot); } catch (IOException) { }
        }
    }

    private static void ReleaseCriuRoot(string criuRoot)
    {
        try { BindMount.Detach(criuRoot); } catch (SyscallException) { }
        // Non-recursive: if the detach failed, the mount (and the rootfs behind it) must stay untouched.
        try { Directory.Delete(criuRoot); } catch (IOException) { }
    }

    private void UndoRestore(StateFile? prior, ICgroupManager? cgroups, int pid, ShimSession? shim)
    {
        if (shim is not null)
        {
            // Before ADOPT the shim answers ABORT by killing criu and every child of its own (the
            // restored init among them) and exiting; after it, the init is killed below and the shim
            // follows it.
            try { shim.Abort(); } catch (Exception e) when (e is SyscallException or ObjectDisposedException) { }
        }
        if (pid > 0)
            TryKill(pid, SIGKILL);
        if (cgroups is not null)
        {
            try
            {
                foreach (var p in cgroups.Exists() ? cgroups.GetPids() : [])
                    TryKill(p, SIGKILL);
                if (prior is null)
                    cgroups.Destroy();
            }
            catch (Exception e) when (e is RuntimeException or IOException or SyscallException)
            {
            }
        }
        if (shim is not null)
        {
            try { shim.WaitShimExit(); } catch (SyscallException) { }
            shim.Dispose();
        }
        if (prior is null)
        {
            try
            {
                Store.Remove(Id);
            }
            catch (IOException)
            {
            }
            _state = null;
        }
        else
        {
            Store.Write(prior);
            _state = prior;
        }
    }

    private CriuClient OpenCriu()
    {
        try
        {
            var client = new CriuClient(CriuLocator.Resolve(null, _factory.Options.CriuPath));
            client.RequireVersion();
            return client;
        }
        catch (CriuException e)
        {
            throw new RuntimeException(e.Message, e);
        }
    }

    /// <summary>
    /// The mounts CRIU must treat as external: every bind mount of the config and each per-hierarchy
    /// bind under a cgroup mount. They are keyed by their destination inside the container; on restore
    /// the value is the host path to bind again (for cgroups: the new container's own cgroup).
    /// </summary>
    internal IReadOnlyList<CriuExternalMount> ExternalMounts(ContainerConfig config, ICgroupManager cgroups, bool forRestore)
    {
        var result = new List<CriuExternalMount>();
        foreach (var m in config.Mounts)
        {
            if (m.Type == "bind")
                result.Add(new CriuExternalMount(m.Destination, forRestore ? m.Source : m.Destination));
            else if (m.Type == "cgroup")
            {
                foreach (var src in CgroupMountSources.For(_factory.Layout, cgroups))
                {
                    var key = m.Destination.TrimEnd('/') + "/" + src.Name;
                    result.Add(new CriuExternalMount(key, forRestore ? src.HostPath : key));
                }
            }
        }
        return result;
    }

    /// <summary>
    /// How CRIU will name the init's stdio, one key per fd 0-2: a pipe by its link ("pipe:[1234]"), a
    /// file outside the container's mounts (e.g. the host's /dev/null, a log file) as CRIU's external
    /// file "file[mnt_id:inode]" (hex), which the dump must also declare external. Pipes and such files
    /// are what a restore reconnects to the restoring caller's fds; anything else ("" here) CRIU handles
    /// itself (files inside the container, sockets with --ext-unix-sk).
    /// </summary>
    internal static List<string> StdioKeys(int pid, out List<string> externals)
    {
        externals = [];
        var keys = new List<string>();
        var containerMounts = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/mountinfo"))
                containerMounts.Add(line.Split(' ', 2)[0]);
        }
        catch (IOException)
        {
        }
        for (int i = 0; i < 3; i++)
        {
            string link;
            try
            {
                link = new FileInfo($"/proc/{pid}/fd/{i}").LinkTarget ?? "";
            }
            catch (IOException)
            {
                link = "";
            }
            if (link.StartsWith("pipe:", StringComparison.Ordinal))
            {
                keys.Add(link);
                continue;
            }
            if (!link.StartsWith('/') || !TryReadFdInfo(pid, i, out var mntId, out var ino) || containerMounts.Contains(mntId.ToString(System.Globalization.CultureInfo.InvariantCulture)))
            {
                keys.Add("");
                continue;
            }
            var key = $"file[{mntId:x}:{ino:x}]";
            keys.Add(key);
            if (!externals.Contains(key))
                externals.Add(key);
        }
        return keys;
    }

    private static bool TryReadFdInfo(int pid, int fd, out int mntId, out ulong ino)
    {
        mntId = 0;
        ino = 0;
        bool haveMnt = false, haveIno = false;
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/fdinfo/{fd}"))
            {
                var parts = line.Split(':', 2);
                if (parts.Length != 2)
                    continue;
                if (parts[0] == "mnt_id")
                    haveMnt = int.TryParse(parts[1].Trim(), out mntId);
                else if (parts[0] == "ino")
                    haveIno = ulong.TryParse(parts[1].Trim(), out ino);
            }
        }
        catch (IOException)
        {
            return false;
        }
        return haveMnt && haveIno;
    }

    private static SafeFileHandle OpenDirectory(string path)
    {
        int fd = LibcIo.Open(path, LibcIo.O_DIRECTORY | LibcIo.O_CLOEXEC, 0);
        if (fd < 0)
            throw new SyscallException("open", path, Syscalls.LastErrno());
        return new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>CRIU locks a dumped network namespace with iptables; without it, only an unlocked dump works.</summary>
    private static bool IptablesAvailable() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin").Split(':')
            .Concat(["/usr/sbin", "/sbin"])
            .Any(d => d.Length > 0 && File.Exists(Path.Combine(d, "iptables-restore")));

    /// <summary>Marks the container checkpointed at post-dump, the moment CRIU has the whole image.</summary>
    private sealed class DumpNotifyHandler(Container container, StateFile state, CriuOptions options) : ICriuNotifyHandler
    {
        public bool Marked { get; private set; }

        public void OnNotify(CriuNotification n)
        {
            n.Fd?.Dispose();
            if (n.Script == "post-dump" && !options.LeaveRunning && !options.PreDump)
            {
                container.Store.Write(state with { Checkpointed = true });
                Marked = true;
            }
            // pre-dump, network-lock and network-unlock: the runtime configures no host-side network
            // (no veth strategies), so there is nothing to detach or re-attach.
        }
    }

    private sealed class RestoreNotifyHandler(ContainerConfig config) : ICriuNotifyHandler
    {
        public int Pid { get; private set; }
        public SafeFileHandle? PtyMaster { get; private set; }

        public void OnNotify(CriuNotification n)
        {
            switch (n.Script)
            {
                case "orphan-pts-master":
                    PtyMaster?.Dispose();
                    PtyMaster = n.Fd;
                    return;
                case "setup-namespaces":
                    // CRIU writes the maps of a user namespace it restored itself; a map is writable once,
                    // so only empty ones are filled from the config.
                    if (n.Pid > 0 && config.CreatesNamespace(NamespaceType.User))
                    {
                        if (IsEmpty($"/proc/{n.Pid}/gid_map"))
                            WriteMap($"/proc/{n.Pid}/gid_map", config.GidMappings);
                        if (IsEmpty($"/proc/{n.Pid}/uid_map"))
                            WriteMap($"/proc/{n.Pid}/uid_map", config.UidMappings);
                    }
                    break;
                case "post-restore":
                    Pid = n.Pid;
                    break;
            }
            n.Fd?.Dispose();
        }

        private static bool IsEmpty(string path) => File.ReadAllText(path).Trim().Length == 0;
    }
}

/// <summary>
/// The init of a restored container, watched by the supervisor-shim that ran criu: the same contract as
/// <see cref="ContainerProcess"/> for a fresh init. <see cref="Wait"/> returns the exit code the shim
/// reports (which it has also written to exit.json); <see cref="Detach"/> lets the shim live on alone.
/// </summary>
public sealed class RestoredProcess : IDisposable
{
    private readonly ShimSession _session;
    private readonly ulong _startTime;

    internal RestoredProcess(ShimSession session, int pid, ulong startTime, SafeFileHandle? ptyMaster)
    {
        _session = session;
        Pid = pid;
        _startTime = startTime;
        PtyMaster = ptyMaster;
    }

    public int Pid { get; }

    /// <summary>The pid of the supervisor-shim that is the init's parent.</summary>
    public int ShimPid => _session.ShimPid;

    /// <summary>The pty master CRIU handed over (orphan-pts-master) when the container has a terminal.</summary>
    public SafeFileHandle? PtyMaster { get; }

    /// <summary>Blocks until the init exits; returns its exit code (128+signal when killed).</summary>
    public int Wait() => _session.WaitExit().ExitCode;

    public bool IsAlive => ProcStat.IsAlive(Pid, _startTime);

    /// <summary>Lets the shim live on without us (restore -d): closes our end of its control socket.</summary>
    public void Detach() => _session.Detach();

    /// <summary>Reaps the shim once it has exited (after the last process of the container).</summary>
    public int WaitShim() => _session.WaitShimExit();

    /// <summary>Detaches from the shim (it keeps monitoring) and closes the pty master.</summary>
    public void Dispose()
    {
        _session.Dispose();
        PtyMaster?.Dispose();
    }
}

[JsonSerializable(typeof(List<string>))]
internal sealed partial class CriuJsonContext : JsonSerializerContext;
