using System.Collections.Concurrent;
using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using Supervisor.Actors;
using Supervisor.Criu;
using Supervisor.Linux;
using Supervisor.Linux.Notify;
using Supervisor.Runtime;
using Supervisor.Runtime.Oci;

namespace Supervisor.Cluster;

/// <summary>
/// Both ends of a live migration, node-local. The source releases the container from its supervisor (so the
/// exit the dump causes is not taken for a crash), dumps it with CRIU (leave-running off), removes its
/// stopped remains (state directory and cgroup: the images are now the container), streams the images to
/// the target in chunks (or leaves them on the shared path), and asks the target to restore and adopt it.
/// Whatever fails after the dump, the source restores the container from its own images and adopts it
/// again, so a failed migration leaves it running on the source.
/// The source's remains go before the target restores because two nodes on one host would otherwise share
/// the container's cgroup (named after its id) and the source's delete would kill the restored tasks.
/// </summary>
internal sealed class Migrations
{
    private readonly ClusterSettings _settings;
    private readonly SupervisorSettings _supervisor;
    private readonly IActorRef _containers;
    private readonly ActorSystem _system;
    private readonly string _self;
    private readonly ILoggingAdapter _log;
    private readonly ContainerFactory _factory;
    private readonly ConcurrentDictionary<string, Incoming> _incoming = new(StringComparer.Ordinal);

    private readonly IWorkloadAdmission _admission;

    /// <summary>A migration this node expects; <see cref="Bundle"/> is where it restores from (its own copy of a carried config, or the request's bundle).</summary>
    private sealed record Incoming(IncomingMigration Request, string Images, string Bundle);

    public Migrations(ClusterSettings settings, SupervisorSettings supervisor, IActorRef containers, ActorSystem system, string self, ILoggingAdapter log,
        IWorkloadAdmission admission)
    {
        _admission = admission;
        _settings = settings;
        _supervisor = supervisor;
        _containers = containers;
        _system = system;
        _self = self;
        _log = log;
        _factory = new ContainerFactory(new RuntimeOptions
        {
            StateRoot = supervisor.StateRoot,
            ShimPath = supervisor.ShimPath,
            CriuPath = supervisor.CriuPath,
        });
    }

    /// <summary>Where this node keeps images in transit and the console logs of restored containers.</summary>
    private string WorkRoot => Path.Combine(_supervisor.StateRoot, ".cluster");

    private string Markers => Path.Combine(WorkRoot, "workloads");

    public async Task<object> MigrateOut(MigrateOut m)
    {
        long bytes = 0;
        double checkpointMs = 0, transferMs = 0, restoreMs = 0, cleanupMs = 0;
        MigrationReport Fail(string error, string runningOn) =>
            new(m.Id, _self, m.ToNode, false, error, runningOn, bytes, checkpointMs, transferMs, restoreMs, cleanupMs);

        if (m.ToNode == _self)
            return Fail($"container {m.Id} already runs on {_self}", _self);
        var info = await _containers.Ask<object>(new GetContainerState(m.Id), TimeSpan.FromSeconds(10));
        if (info is not ContainerInfo { Status: ContainerStatus.Running } running)
            return Fail(info is ContainerInfo ci ? $"container {m.Id} is {ci.Status.ToOci()}, not running" : $"container {m.Id} does not exist on {_self}", _self);
        Container container;
        try
        {
            container = _factory.Load(m.Id);
        }
        catch (RuntimeException e)
        {
            return Fail(e.Message, _self);
        }
        var bundle = container.Bundle;
        var restart = running.Restart;
        var migrationId = m.Id + "-" + Guid.NewGuid().ToString("N")[..8];
        var images = _settings.MigrationSharedPath is { } shared
            ? Path.Combine(shared, migrationId)
            : Path.Combine(WorkRoot, "out", migrationId);
        var target = NodeAgent.At(_system, m.ToNode);
        var askTimeout = TimeSpan.FromSeconds(15);

        // The target checks the bundle and the id before anything stops here.
        MigrationStep step;
        try
        {
            step = await target.Ask<MigrationStep>(new IncomingMigration(migrationId, m.Id, bundle, restart, _settings.MigrationSharedPath is null ? null : images,
                m.Config, m.AdmitAs), askTimeout);
        }
        catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
        {
            return Fail($"target {m.ToNode} did not answer: {e.Message}", _self);
        }
        if (!step.Ok)
            return Fail($"target {m.ToNode} refused: {step.Error}", _self);

        var sw = Stopwatch.StartNew();
        await _containers.Ask<object>(new ReleaseContainer(m.Id), askTimeout);
        var shimPid = ShimPidOf(container);
        try
        {
            Directory.CreateDirectory(images);
            await Task.Run(() => container.Checkpoint(new CriuOptions
            {
                ImagesDirectory = images,
                LeaveRunning = false,
                TcpEstablished = m.TcpEstablished,
            }));
        }
        catch (Exception e) when (e is RuntimeException or IOException or SyscallException or UnauthorizedAccessException)
        {
            checkpointMs = sw.Elapsed.TotalMilliseconds;
            target.Tell(new AbortIncoming(migrationId));
            var back = await Recover(m.Id, bundle, restart, images, m.TcpEstablished);
            return Fail($"checkpoint failed: {e.Message}{back}", _self);
        }
        checkpointMs = sw.Elapsed.TotalMilliseconds;
        ReapShim(shimPid);

        sw.Restart();
        try
        {
            container.Delete(force: true);
        }
        catch (Exception e) when (e is RuntimeException or IOException or SyscallException)
        {
            _log.Warning("migration {0}: removing the checkpointed source failed: {1}", migrationId, e.Message);
        }
        cleanupMs = sw.Elapsed.TotalMilliseconds;

        sw.Restart();
        bytes = Directory.EnumerateFiles(images).Sum(f => new FileInfo(f).Length);
        if (_settings.MigrationSharedPath is null)
        {
            var error = await Stream(target, migrationId, images, askTimeout);
            transferMs = sw.Elapsed.TotalMilliseconds;
            if (error is not null)
            {
                target.Tell(new AbortIncoming(migrationId));
                var back = await Recover(m.Id, bundle, restart, images, m.TcpEstablished);
                return Fail($"image transfer failed: {error}{back}", _self);
            }
        }

        sw.Restart();
        try
        {
            step = await target.Ask<MigrationStep>(new RestoreIncoming(migrationId, m.TcpEstablished), _settings.MigrationTimeout);
        }
        catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
        {
            step = new MigrationStep(migrationId, false, $"target did not answer: {e.Message}", 0);
            target.Tell(new AbortIncoming(migrationId));
        }
        restoreMs = sw.Elapsed.TotalMilliseconds;
        if (!step.Ok)
        {
            var back = await Recover(m.Id, bundle, restart, images, m.TcpEstablished);
            return Fail($"restore on {m.ToNode} failed: {step.Error}{back}", _self);
        }

        sw.Restart();
        TryDeleteDirectory(images);
        NodeAgent.TryDelete(Path.Combine(Markers, m.Id));
        // The config this node wrote for the workload goes with its container; the target wrote its own copy.
        if (m.Config is not null)
            TryDeleteDirectory(NodeAgent.BundleDir(_supervisor.StateRoot, m.Id));
        cleanupMs += sw.Elapsed.TotalMilliseconds;
        _log.Info("migration {0}: moved to {1} (pid {2}): {3}", migrationId, m.ToNode, step.Pid,
            $"checkpoint {checkpointMs:F0} ms, transfer {transferMs:F0} ms, restore {restoreMs:F0} ms, cleanup {cleanupMs:F0} ms, {bytes} bytes");
        return new MigrationReport(m.Id, _self, m.ToNode, true, null, m.ToNode, bytes, checkpointMs, transferMs, restoreMs, cleanupMs);
    }

    /// <summary>
    /// After a failure on the source side: the container either still runs (a failed dump thaws it) and is
    /// adopted again, or the dump stopped it and it is restored here from the images first.
    /// Returns a note for the report, empty when the container runs here again.
    /// </summary>
    private async Task<string> Recover(string id, string bundle, string restart, string images, bool tcp)
    {
        try
        {
            var live = _factory.Exists(id) ? _factory.Load(id) : null;
            if (live is null || live.Status is not (ContainerStatus.Running or ContainerStatus.Paused))
            {
                if (live is not null)
                    live.Delete(force: true);
                await Task.Run(() => RestoreHere(id, bundle, images, tcp));
            }
            var r = await _containers.Ask<object>(new AdoptContainer(id, NodeAgent.ParseRestart(restart, _supervisor.DefaultRestart)), TimeSpan.FromSeconds(15));
            TryDeleteDirectory(images);
            return r is CommandFailed f ? $"; adopting it again failed: {f.Error}" : "";
        }
        catch (Exception e) when (e is RuntimeException or IOException or SyscallException or UnauthorizedAccessException or AskTimeoutException)
        {
            _log.Error("migration of {0}: the container could not be brought back on {1}: {2}", id, _self, e.Message);
            return $"; bringing it back on the source failed too: {e.Message} (images kept in {images})";
        }
    }

    private async Task<string?> Stream(ActorSelection target, string migrationId, string images, TimeSpan timeout)
    {
        var buffer = new byte[_settings.ChunkSize];
        foreach (var file in Directory.EnumerateFiles(images).Order(StringComparer.Ordinal))
        {
            var name = Path.GetFileName(file);
            await using var fs = File.OpenRead(file);
            long offset = 0;
            while (true)
            {
                int n = await fs.ReadAsync(buffer);
                // An empty file still gets one (empty) chunk so that it exists on the target.
                if (n == 0 && offset > 0)
                    break;
                MigrationStep ack;
                try
                {
                    ack = await target.Ask<MigrationStep>(new ImageChunk(migrationId, name, offset, buffer[..n]), timeout);
                }
                catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
                {
                    return $"no acknowledgement for {name} at {offset}: {e.Message}";
                }
                if (!ack.Ok)
                    return ack.Error;
                offset += n;
                if (n == 0)
                    break;
            }
        }
        return null;
    }

    // ---- target side ----

    public MigrationStep Prepare(IncomingMigration m)
    {
        if (m.Config is null && !File.Exists(Path.Combine(m.Bundle, "config.json")))
            return new MigrationStep(m.MigrationId, false, $"bundle {m.Bundle} does not exist on {_self}", 0);
        if (_factory.Exists(m.Id))
            return new MigrationStep(m.MigrationId, false, $"container {m.Id} already exists on {_self}", 0);
        // A carried config is admitted here as a placement would be, before the source stops anything.
        if (_admission.Refuse(new WorkloadSpec(m.Id, m.Bundle, m.Restart, PlacementConstraints.None, m.Config, m.AdmitAs)) is { } refusal)
            return new MigrationStep(m.MigrationId, false, refusal, 0);
        var images = m.SharedImages ?? Path.Combine(WorkRoot, "in", m.MigrationId);
        var bundle = m.Bundle;
        try
        {
            if (m.Config is not null)
                bundle = CheckedConfig.Write(NodeAgent.BundleDir(_supervisor.StateRoot, m.Id), m.Config);
            if (m.SharedImages is null)
            {
                TryDeleteDirectory(images);
                Directory.CreateDirectory(images);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            if (m.Config is not null)
                TryDeleteDirectory(NodeAgent.BundleDir(_supervisor.StateRoot, m.Id));
            return new MigrationStep(m.MigrationId, false, e.Message, 0);
        }
        _incoming[m.MigrationId] = new Incoming(m, images, bundle);
        return new MigrationStep(m.MigrationId, true, null, 0);
    }

    public MigrationStep Write(ImageChunk c)
    {
        if (!_incoming.TryGetValue(c.MigrationId, out var inc))
            return new MigrationStep(c.MigrationId, false, $"no migration {c.MigrationId} is expected on {_self}", 0);
        // Names come from another node: only plain file names inside the images directory.
        if (c.File.Length == 0 || c.File != Path.GetFileName(c.File) || c.File is "." or ".." || c.Offset < 0)
            return new MigrationStep(c.MigrationId, false, $"invalid image file name {c.File}", 0);
        try
        {
            using var fs = new FileStream(Path.Combine(inc.Images, c.File), FileMode.OpenOrCreate, FileAccess.Write);
            fs.Seek(c.Offset, SeekOrigin.Begin);
            fs.Write(c.Data);
            return new MigrationStep(c.MigrationId, true, null, 0);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new MigrationStep(c.MigrationId, false, e.Message, 0);
        }
    }

    public async Task<object> RestoreIncoming(RestoreIncoming r)
    {
        if (!_incoming.TryRemove(r.MigrationId, out var inc))
            return new MigrationStep(r.MigrationId, false, $"no migration {r.MigrationId} is expected on {_self}", 0);
        var m = inc.Request;
        try
        {
            var pid = await Task.Run(() => RestoreHere(m.Id, inc.Bundle, inc.Images, r.TcpEstablished));
            var adopted = await _containers.Ask<object>(new AdoptContainer(m.Id, NodeAgent.ParseRestart(m.Restart, _supervisor.DefaultRestart)), TimeSpan.FromSeconds(15));
            if (adopted is CommandFailed f)
            {
                // Nobody would watch it here: it goes, and the source brings its own copy back.
                _factory.Load(m.Id).Delete(force: true);
                ForgetCarried(inc);
                return new MigrationStep(r.MigrationId, false, f.Error, 0);
            }
            NodeAgent.MarkPlaced(Markers, m.Id);
            return new MigrationStep(r.MigrationId, true, null, pid);
        }
        catch (Exception e) when (e is RuntimeException or IOException or SyscallException or UnauthorizedAccessException or FormatException or AskTimeoutException)
        {
            if (!_factory.Exists(m.Id))
                ForgetCarried(inc);
            return new MigrationStep(r.MigrationId, false, e.Message, 0);
        }
        finally
        {
            if (m.SharedImages is null)
                TryDeleteDirectory(inc.Images);
        }
    }

    public void Abort(string migrationId)
    {
        if (!_incoming.TryRemove(migrationId, out var inc))
            return;
        if (inc.Request.SharedImages is null)
            TryDeleteDirectory(inc.Images);
        ForgetCarried(inc);
    }

    /// <summary>Removes this node's copy of a carried config when the migration that brought it did not end with a container here.</summary>
    private void ForgetCarried(Incoming inc)
    {
        if (inc.Request.Config is not null)
            TryDeleteDirectory(inc.Bundle);
    }

    /// <summary>
    /// Restores the container from <paramref name="images"/> into this node's state root: stdin from
    /// /dev/null, stdout and stderr appended to a console log, as the daemon's own containers have. CRIU makes
    /// the restored init a child of this process; a thread reaps it when it exits and records its exit status.
    /// </summary>
    private int RestoreHere(string id, string bundle, string images, bool tcp)
    {
        var config = SpecConverter.Convert(SpecLoader.LoadBundle(bundle), bundle);
        var logs = Path.Combine(WorkRoot, "logs");
        Directory.CreateDirectory(logs);
        using var devNull = File.OpenHandle("/dev/null", FileMode.Open, FileAccess.Read);
        using var log = File.OpenHandle(Path.Combine(logs, id + ".console.log"), FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
        var io = new ProcessIo
        {
            Stdin = (int)devNull.DangerousGetHandle(),
            Stdout = (int)log.DangerousGetHandle(),
            Stderr = (int)log.DangerousGetHandle(),
        };
        var (_, process) = _factory.Restore(id, bundle, config, io, new CriuOptions
        {
            ImagesDirectory = images,
            WorkDirectory = Path.Combine(WorkRoot, "work", id),
            TcpEstablished = tcp,
        });
        var pid = process.Pid;
        new Thread(() =>
        {
            try
            {
                process.Wait();
            }
            catch (SyscallException)
            {
            }
            finally
            {
                process.Dispose();
            }
        })
        { IsBackground = true, Name = "reap " + id }.Start();
        return pid;
    }

    private static int ShimPidOf(Container c)
    {
        try
        {
            return c.ReadState()?.ShimPid ?? 0;
        }
        catch (Exception e) when (e is RuntimeException or IOException)
        {
            return 0;
        }
    }

    /// <summary>
    /// The dump killed the init, so its shim exits; when this daemon started it, it is our child and is
    /// reaped here (the released container actor no longer does it). A shim of an earlier daemon is not
    /// our child (ECHILD) and is left to whoever adopted it.
    /// </summary>
    private static void ReapShim(int pid)
    {
        if (pid <= 0)
            return;
        try
        {
            var (done, _) = Syscalls.WaitPid(pid, Syscalls.WNOHANG);
            if (done != 0)
                return;
            // Still our unreaped child, so the pid cannot have been reused and the pidfd is the shim's.
            using var pidfd = Syscalls.PidfdOpen(pid);
            FdPoll.WaitReadable([(int)pidfd.DangerousGetHandle()], 5000);
            Syscalls.WaitPid(pid, Syscalls.WNOHANG);
        }
        catch (SyscallException)
        {
            // ECHILD: a shim of an earlier daemon, reaped by whoever adopted it.
        }
    }

    private static void TryDeleteDirectory(string dir)
    {
        try
        {
            if (Directory.Exists(dir))
                Directory.Delete(dir, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }
}
