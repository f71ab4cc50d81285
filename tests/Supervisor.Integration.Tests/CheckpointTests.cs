using System.Diagnostics;
using System.Text.Json.Nodes;
using Supervisor.Criu;
using Supervisor.Integration.Tests.Infrastructure;
using Supervisor.Linux.Criu;
using Supervisor.Runtime;
using Supervisor.Runtime.Oci;

namespace Supervisor.Integration.Tests;

/// <summary>
/// Checkpoint and restore of busybox containers with the private CRIU 4.1.1, black-box through the CLI
/// (and through the C# API where a test needs fds the CLI cannot give). The workload is a counter that
/// writes its value to /tmp/counter in the rootfs: after a restore it must go on from the value it had
/// when it was dumped, which only a restored (not restarted) shell can do.
/// </summary>
public sealed class CheckpointTests : IDisposable
{
    // Written through a rename so that a dump can never catch the file truncated and empty.
    private const string CounterScript = "i=0; while true; do i=$((i+1)); echo $i > /tmp/counter.new; mv /tmp/counter.new /tmp/counter; sleep 0.05; done";
    private readonly StateRoot _root = new();
    private readonly List<IDisposable> _cleanup = [];

    public void Dispose()
    {
        _root.Dispose();
        foreach (var d in _cleanup)
            d.Dispose();
    }

    private static string Sv(string root) => $"{Shell.Quote(TestPaths.Cli)} --root {root} --criu {Shell.Quote(CriuFactAttribute.CriuPath)}";

    private Bundle CounterBundle()
    {
        var b = new Bundle(_root.Path, args: ["/bin/sh", "-c", CounterScript]);
        _cleanup.Add(b);
        return b;
    }

    private static CliResult Sh(string command)
    {
        var r = Shell.Run(command);
        return r;
    }

    private string RunDetached(Bundle b, string prefix, string? root = null)
    {
        var id = StateRoot.NewId(prefix);
        var r = Sh($"{Sv(root ?? _root.Path)} run -d -b {b.Dir} {id} </dev/null >/dev/null 2>/dev/null");
        Assert.True(r.ExitCode == 0, r.ToString());
        return id;
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

    /// <summary>Waits until the counter has passed <paramref name="min"/> and returns its value.</summary>
    private static int WaitCounterAbove(Bundle b, int min)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            var v = Counter(b);
            if (v > min)
                return v;
            Thread.Sleep(20);
        }
        throw new TimeoutException($"the counter never went above {min}");
    }

    /// <summary>
    /// The restored counter goes on from its value at the dump. The restore command returns a little
    /// after the tree runs again, so a few steps may already have passed; a restarted shell would count
    /// from 1 instead, far below a checkpoint taken after <see cref="Base"/> steps.
    /// </summary>
    private static void AssertResumedFrom(Bundle b, int atCheckpoint)
    {
        var resumed = WaitCounterChange(b, atCheckpoint);
        Assert.InRange(resumed, atCheckpoint + 1, atCheckpoint + Base / 2);
    }

    private const int Base = 40;

    /// <summary>Waits until the counter shows a value other than <paramref name="old"/> and returns it.</summary>
    private static int WaitCounterChange(Bundle b, int old)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            var v = Counter(b);
            if (v != old)
                return v;
            Thread.Sleep(10);
        }
        throw new TimeoutException($"the counter stayed at {old}");
    }

    private static JsonObject State(string root, string id)
    {
        var r = Cli.Run(root, "state", id);
        Assert.True(r.ExitCode == 0, r.ToString());
        return JsonNode.Parse(r.Stdout)!.AsObject();
    }

    [CriuFact]
    public void Checkpoint_stops_the_container_and_restore_continues_the_counter()
    {
        var b = CounterBundle();
        var id = RunDetached(b, "cr");
        int oldPid = (int)State(_root.Path, id)["pid"]!;
        WaitCounterAbove(b, Base);

        var cp = Sh($"{Sv(_root.Path)} checkpoint {id}");
        Assert.True(cp.ExitCode == 0, cp.ToString());
        var atCheckpoint = Counter(b);
        var st = State(_root.Path, id);
        Assert.Equal("checkpointed", (string)st["status"]!);
        Assert.Equal(0, (int)st["pid"]!);
        Assert.False(Directory.Exists($"/proc/{oldPid}") && File.ReadAllText($"/proc/{oldPid}/stat").Contains("(sh)"),
            "the dumped init still runs");
        var images = Path.Combine(_root.Path, id, "criu.image");
        Assert.True(File.Exists(Path.Combine(images, "dump.log")));
        Assert.True(File.Exists(Path.Combine(images, "inventory.img")));
        Assert.True(File.Exists(Path.Combine(images, Container.DescriptorsFile)));
        // Nothing runs any more, so the counter stays where the dump left it.
        Thread.Sleep(300);
        Assert.Equal(atCheckpoint, Counter(b));

        var rs = Sh($"{Sv(_root.Path)} restore -d {id} </dev/null >/dev/null 2>/dev/null");
        Assert.True(rs.ExitCode == 0, rs + File.ReadAllText(Path.Combine(images, "restore.log")).Split('\n').TakeLast(5).Aggregate("", (a, l) => a + "\n" + l));
        st = State(_root.Path, id);
        Assert.Equal("running", (string)st["status"]!);
        int newPid = (int)st["pid"]!;
        Assert.NotEqual(0, newPid);
        AssertResumedFrom(b, atCheckpoint);
        // The restored tree lives in the container's cgroups, so ps lists it.
        var ps = Cli.Run(_root.Path, "ps", "--format", "json", id);
        Assert.Contains(newPid, JsonNode.Parse(ps.Stdout)!.AsArray().Select(n => (int)n!));

        var del = Cli.Run(_root.Path, "delete", "--force", id);
        Assert.True(del.ExitCode == 0, del.ToString());
        Assert.False(Directory.Exists(Path.Combine(_root.Path, id)));
    }

    [CriuFact]
    public void Leave_running_keeps_the_container_and_its_images_restore_elsewhere()
    {
        var b = CounterBundle();
        var id = RunDetached(b, "crlr");
        int pid = (int)State(_root.Path, id)["pid"]!;
        WaitCounterAbove(b, Base);
        var images = Path.Combine(b.Dir, "images");
        var before = Counter(b);
        var cp = Sh($"{Sv(_root.Path)} checkpoint --leave-running --image-path {images} {id}");
        Assert.True(cp.ExitCode == 0, cp.ToString());
        var after = Counter(b);
        var st = State(_root.Path, id);
        Assert.Equal("running", (string)st["status"]!);
        Assert.Equal(pid, (int)st["pid"]!);
        Assert.True(WaitCounterAbove(b, after + 3) > after + 3);

        var del = Cli.Run(_root.Path, "delete", "--force", id);
        Assert.True(del.ExitCode == 0, del.ToString());
        var last = Counter(b);
        var rs = Sh($"{Sv(_root.Path)} restore -d -b {b.Dir} --image-path {images} {id} </dev/null >/dev/null 2>/dev/null");
        Assert.True(rs.ExitCode == 0, rs.ToString());
        // The restored shell goes on from its value at the dump, which lies between the two reads.
        var resumed = WaitCounterChange(b, last);
        Assert.InRange(resumed, before + 1, after + Base / 2);
    }

    [CriuFact(NeedsDirtyTracking = true)]
    public void Pre_dump_then_dump_with_parent_restores()
    {
        var b = CounterBundle();
        var id = RunDetached(b, "crpre");
        WaitCounterAbove(b, Base);
        var pre = Path.Combine(b.Dir, "pre");
        var full = Path.Combine(b.Dir, "full");
        var r = Sh($"{Sv(_root.Path)} checkpoint --pre-dump --image-path {pre} {id}");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("running", (string)State(_root.Path, id)["status"]!);
        Assert.True(File.Exists(Path.Combine(pre, "pre-dump.log")));
        Assert.False(File.Exists(Path.Combine(pre, Container.DescriptorsFile)), "a pre-dump alone is not restorable");

        r = Sh($"{Sv(_root.Path)} checkpoint --image-path {full} --parent-path ../pre {id}");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("checkpointed", (string)State(_root.Path, id)["status"]!);
        Assert.Equal("../pre", new FileInfo(Path.Combine(full, "parent")).LinkTarget);
        var atCheckpoint = Counter(b);

        r = Sh($"{Sv(_root.Path)} restore -d --image-path {full} {id} </dev/null >/dev/null 2>/dev/null");
        Assert.True(r.ExitCode == 0, r.ToString());
        AssertResumedFrom(b, atCheckpoint);
    }

    /// <summary>On a kernel without soft-dirty tracking a pre-dump must fail clearly and change nothing.</summary>
    [CriuFact]
    public void Pre_dump_without_dirty_tracking_fails_clearly_and_the_container_keeps_running()
    {
        if (CriuFactAttribute.HasDirtyTracking)
        {
            // This kernel can pre-dump: Pre_dump_then_dump_with_parent_restores covers it.
            return;
        }
        var b = CounterBundle();
        var id = RunDetached(b, "crnopre");
        int pid = (int)State(_root.Path, id)["pid"]!;
        var r = Sh($"{Sv(_root.Path)} checkpoint --pre-dump --image-path {b.Dir}/pre {id}");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("criu pre-dump is not possible here: the kernel offers no memory dirty tracking", r.Stderr);
        var st = State(_root.Path, id);
        Assert.Equal("running", (string)st["status"]!);
        Assert.Equal(pid, (int)st["pid"]!);
    }

    [CriuFact]
    public void Migration_restores_under_a_new_id_in_a_fresh_state_root()
    {
        var b = CounterBundle();
        var id = RunDetached(b, "crsrc");
        WaitCounterAbove(b, Base);
        var images = Path.Combine(b.Dir, "migrate");
        var r = Sh($"{Sv(_root.Path)} checkpoint --image-path {images} {id}");
        Assert.True(r.ExitCode == 0, r.ToString());
        var atCheckpoint = Counter(b);

        using var target = new StateRoot();
        var newId = StateRoot.NewId("crdst");
        var pidFile = Path.Combine(b.Dir, "restored.pid");
        r = Sh($"{Sv(target.Path)} restore -d -b {b.Dir} --image-path {images} --pid-file {pidFile} {newId} </dev/null >/dev/null 2>/dev/null");
        Assert.True(r.ExitCode == 0, r.ToString());
        var st = State(target.Path, newId);
        Assert.Equal("running", (string)st["status"]!);
        Assert.Equal(int.Parse(File.ReadAllText(pidFile)), (int)st["pid"]!);
        Assert.Equal(b.Dir, (string)st["bundle"]!);
        AssertResumedFrom(b, atCheckpoint);
        // The restored init is in the new container's own cgroup (named after the new id).
        var cgroup = File.ReadAllText($"/proc/{(int)st["pid"]!}/cgroup");
        Assert.Contains("pids:/" + newId, cgroup);
        Assert.Equal(0, Cli.Run(target.Path, "delete", "--force", newId).ExitCode);
    }

    /// <summary>libcontainer's own checkpoint test: a `cat` with a stdin pipe, restored with new pipes.</summary>
    [CriuFact]
    public void A_restored_process_reads_and_writes_the_restoring_callers_pipes()
    {
        var b = new Bundle(_root.Path, args: ["/bin/cat"]);
        _cleanup.Add(b);
        var id = StateRoot.NewId("crpipe");
        using (var run = StartCli(_root.Path, "run", "-d", "-b", b.Dir, id))
        {
            Assert.True(run.WaitForExit(TimeSpan.FromSeconds(60)));
            Assert.Equal(0, run.ExitCode);
            run.StandardInput.Write("before\n");
            run.StandardInput.Flush();
            Assert.Equal("before", run.StandardOutput.ReadLine());
            var cp = Cli.Run(_root.Path, "--criu", CriuFactAttribute.CriuPath, "checkpoint", id);
            Assert.True(cp.ExitCode == 0, cp.ToString());
        }
        var images = Path.Combine(_root.Path, id, "criu.image");
        var descriptors = JsonNode.Parse(File.ReadAllText(Path.Combine(images, Container.DescriptorsFile)))!.AsArray();
        Assert.StartsWith("pipe:[", (string)descriptors[0]!);

        using var restore = StartCli(_root.Path, "restore", "-d", id);
        Assert.True(restore.WaitForExit(TimeSpan.FromSeconds(60)));
        // Its stderr stays open in the restored cat, so it is not read here (a read would wait for EOF).
        Assert.Equal(0, restore.ExitCode);
        Assert.Equal("running", (string)State(_root.Path, id)["status"]!);
        restore.StandardInput.Write("Hello!\n");
        restore.StandardInput.Flush();
        Assert.Equal("Hello!", restore.StandardOutput.ReadLine());
        Assert.Equal(0, Cli.Run(_root.Path, "delete", "--force", id).ExitCode);
    }

    /// <summary>A counter that exits 7 on SIGTERM (the trap runs once the current sleep returns).</summary>
    private const string TrapScript = "trap 'exit 7' TERM; " + CounterScript;

    private static JsonObject StateFileOf(string root, string id) =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(root, id, "state.json")))!.AsObject();

    private static int ParentOf(int pid) =>
        int.Parse(File.ReadAllLines($"/proc/{pid}/status").First(l => l.StartsWith("PPid:", StringComparison.Ordinal))[5..].Trim());

    private static bool IsShim(int pid)
    {
        try
        {
            var argv0 = File.ReadAllText($"/proc/{pid}/cmdline").Split('\0')[0];
            return argv0.EndsWith("supervisor-shim", StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>Waits until the container is stopped and its shim has gone (it exits after writing exit.json).</summary>
    private static JsonObject WaitStopped(string root, string id, int shimPid)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            var st = State(root, id);
            if ((string)st["status"]! == "stopped" && !IsShim(shimPid))
                return st;
            Thread.Sleep(20);
        }
        throw new TimeoutException($"container {id} never stopped");
    }

    private (string Id, int AtCheckpoint) CheckpointedCounter(Bundle b, string prefix)
    {
        var id = RunDetached(b, prefix);
        WaitCounterAbove(b, Base);
        var cp = Sh($"{Sv(_root.Path)} checkpoint {id}");
        Assert.True(cp.ExitCode == 0, cp.ToString());
        return (id, Counter(b));
    }

    /// <summary>
    /// After `restore -d` the restored init runs under a supervisor-shim, as a fresh init does: the shim
    /// is its parent and is recorded in state.json, and a `kill` ends in the workload's own exit code,
    /// which the shim writes to exit.json and `state` reports.
    /// </summary>
    [CriuFact]
    public void A_detached_restore_is_watched_by_a_shim_and_kill_records_the_exit_code()
    {
        var b = new Bundle(_root.Path, args: ["/bin/sh", "-c", TrapScript]);
        _cleanup.Add(b);
        var (id, atCheckpoint) = CheckpointedCounter(b, "crshim");
        int oldShim = (int)StateFileOf(_root.Path, id)["shimPid"]!;
        Assert.False(IsShim(oldShim), "the dumped container's shim is still running");

        var rs = Sh($"{Sv(_root.Path)} restore -d {id} </dev/null >/dev/null 2>/dev/null");
        Assert.True(rs.ExitCode == 0, rs.ToString());
        var st = State(_root.Path, id);
        Assert.Equal("running", (string)st["status"]!);
        int pid = (int)st["pid"]!;
        int shim = (int)StateFileOf(_root.Path, id)["shimPid"]!;
        Assert.True(IsShim(shim), $"pid {shim} recorded as the shim is not a supervisor-shim");
        Assert.Equal(shim, ParentOf(pid));
        Assert.False(File.Exists(Path.Combine(_root.Path, id, "exit.json")), "the dumped init's exit record survived the restore");
        AssertResumedFrom(b, atCheckpoint);

        var kill = Cli.Run(_root.Path, "kill", id, "TERM");
        Assert.True(kill.ExitCode == 0, kill.ToString());
        st = WaitStopped(_root.Path, id, shim);
        Assert.Equal(7, (int)st["exitCode"]!);
        var exit = JsonNode.Parse(File.ReadAllText(Path.Combine(_root.Path, id, "exit.json")))!;
        Assert.Equal(pid, (int)exit["pid"]!);
        Assert.Equal(7, (int)exit["exitCode"]!);
        Assert.Equal(0, (int)exit["signal"]!);
        Assert.Equal(0, Cli.Run(_root.Path, "delete", id).ExitCode);
    }

    /// <summary>A restored container is an ordinary one: it can be checkpointed and restored again, and
    /// the shim of the first restore leaves with the dumped init.</summary>
    [CriuFact]
    public void A_restored_container_checkpoints_and_restores_again()
    {
        var b = CounterBundle();
        var (id, _) = CheckpointedCounter(b, "crtwice");
        var r = Sh($"{Sv(_root.Path)} restore -d {id} </dev/null >/dev/null 2>/dev/null");
        Assert.True(r.ExitCode == 0, r.ToString());
        int firstShim = (int)StateFileOf(_root.Path, id)["shimPid"]!;
        var before = Counter(b);
        WaitCounterAbove(b, before + 5);

        r = Sh($"{Sv(_root.Path)} checkpoint {id}");
        Assert.True(r.ExitCode == 0, r.ToString());
        var atSecond = Counter(b);
        Assert.Equal("checkpointed", (string)State(_root.Path, id)["status"]!);
        Assert.False(IsShim(firstShim), "the first restore's shim outlived the dumped init");

        r = Sh($"{Sv(_root.Path)} restore -d {id} </dev/null >/dev/null 2>/dev/null");
        Assert.True(r.ExitCode == 0, r.ToString());
        var st = State(_root.Path, id);
        Assert.Equal("running", (string)st["status"]!);
        Assert.Equal((int)StateFileOf(_root.Path, id)["shimPid"]!, ParentOf((int)st["pid"]!));
        AssertResumedFrom(b, atSecond);
        Assert.Equal(0, Cli.Run(_root.Path, "delete", "--force", id).ExitCode);
    }

    /// <summary>A foreground restore returns the restored workload's exit code (here 128+9) and deletes
    /// the container, as `run` does.</summary>
    [CriuFact]
    public void A_foreground_restore_returns_the_workloads_exit_code()
    {
        var b = CounterBundle();
        var (id, atCheckpoint) = CheckpointedCounter(b, "crfg");
        // The dumped stdio was /dev/null (a file with a position), so the restoring caller's must be too:
        // CRIU cannot put a file's position onto a pipe.
        using var restore = Process.Start(new ProcessStartInfo("/bin/sh")
        {
            ArgumentList = { "-c", $"exec {Sv(_root.Path)} restore {id} </dev/null >/dev/null 2>&1" },
            UseShellExecute = false,
        })!;
        AssertResumedFrom(b, atCheckpoint);
        var st = State(_root.Path, id);
        Assert.Equal("running", (string)st["status"]!);
        int pid = (int)st["pid"]!;
        int shim = (int)StateFileOf(_root.Path, id)["shimPid"]!;
        Assert.Equal(shim, ParentOf(pid));
        Assert.Equal(restore.Id, ParentOf(shim));

        Assert.Equal(0, Cli.Run(_root.Path, "kill", id, "KILL").ExitCode);
        Assert.True(restore.WaitForExit(TimeSpan.FromSeconds(60)), "the foreground restore did not return");
        Assert.Equal(137, restore.ExitCode);
        Assert.False(Directory.Exists(Path.Combine(_root.Path, id)), "the foreground restore left its container behind");
        Assert.False(IsShim(shim), "the shim outlived the container");
    }

    /// <summary>
    /// CRIU fails inside the shim (an image is missing): the error names the step and the log, the
    /// checkpointed container stays checkpointed, and neither criu nor a shim is left behind; under a
    /// new id (migration) no state, cgroup or shim remains either.
    /// </summary>
    [CriuFact]
    public void A_restore_that_fails_in_criu_leaves_no_shim_and_no_half_made_container()
    {
        var b = CounterBundle();
        var (id, _) = CheckpointedCounter(b, "crbad");
        var images = Path.Combine(_root.Path, id, "criu.image");
        foreach (var f in Directory.GetFiles(images, "core-*.img"))
            File.Delete(f);
        var factory = new ContainerFactory(new RuntimeOptions
        {
            StateRoot = _root.Path,
            ShimPath = Path.Combine(TestPaths.BinDir, "supervisor-shim"),
            CriuPath = CriuFactAttribute.CriuPath,
        });
        var devnull = File.OpenHandle("/dev/null", FileMode.Open, FileAccess.ReadWrite);
        int nullFd = (int)devnull.DangerousGetHandle();
        var io = new ProcessIo { Stdin = nullFd, Stdout = nullFd, Stderr = nullFd };

        // Other tests of this process may leave their detached shims as our children.
        var earlier = ChildShims();
        var e = Assert.Throws<RuntimeException>(() => factory.Load(id).Restore(io, new CriuOptions()));
        Assert.StartsWith("criu restore failed:", e.Message);
        Assert.Contains(Path.Combine(images, "restore.log"), e.Message);
        Assert.Equal("checkpointed", (string)State(_root.Path, id)["status"]!);
        AssertNoNewChildShims(earlier);

        var config = SpecConverter.Convert(SpecLoader.LoadBundle(b.Dir), b.Dir);
        var other = StateRoot.NewId("crbadnew");
        e = Assert.Throws<RuntimeException>(() => factory.Restore(other, b.Dir, config, io,
            new CriuOptions { ImagesDirectory = images }));
        Assert.StartsWith("criu restore failed:", e.Message);
        Assert.False(Directory.Exists(Path.Combine(_root.Path, other)));
        Assert.False(Directory.Exists($"/sys/fs/cgroup/pids/{other}"));
        AssertNoNewChildShims(earlier);
        devnull.Dispose();
    }

    private static void AssertNoNewChildShims(List<int> earlier)
    {
        var shims = ChildShims().Except(earlier).ToList();
        Assert.True(shims.Count == 0, "shims left: " + string.Join("; ", shims.Select(p =>
        {
            try { return File.ReadAllText($"/proc/{p}/stat"); } catch (IOException) { return p + " gone"; }
        })));
    }

    /// <summary>Shims (alive or zombie) among this test process's children.</summary>
    private static List<int> ChildShims()
    {
        var result = new List<int>();
        foreach (var task in Directory.GetDirectories("/proc/self/task"))
        {
            string children;
            try
            {
                children = File.ReadAllText(Path.Combine(task, "children"));
            }
            catch (IOException)
            {
                continue;
            }
            foreach (var p in children.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                int pid = int.Parse(p);
                // A zombie has no cmdline left, but the shim's name (it runs from a sealed memfd) stays.
                string stat;
                try
                {
                    stat = File.ReadAllText($"/proc/{pid}/stat");
                }
                catch (IOException)
                {
                    continue;
                }
                if (IsShim(pid) || stat.Contains("(memfd:superviso)", StringComparison.Ordinal))
                    result.Add(pid);
            }
        }
        return result;
    }

    private static Process StartCli(string root, params string[] args)
    {
        var psi = new ProcessStartInfo(TestPaths.Cli)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add("--root");
        psi.ArgumentList.Add(root);
        psi.ArgumentList.Add("--criu");
        psi.ArgumentList.Add(CriuFactAttribute.CriuPath);
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        return Process.Start(psi)!;
    }

    /// <summary>
    /// security-anchors F6 (a): the container's stdin is a connected unix socket whose peer is outside
    /// it; without --ext-unix-sk CRIU refuses to dump it. The container must come out of this running,
    /// thawed, with the same pid and state, and the partial images must not be restorable.
    /// </summary>
    [CriuFact]
    public void A_failed_dump_leaves_the_container_running_and_the_images_unrestorable()
    {
        var b = CounterBundle();
        var factory = new ContainerFactory(new RuntimeOptions
        {
            StateRoot = _root.Path,
            ShimPath = Path.Combine(TestPaths.BinDir, "supervisor-shim"),
            CriuPath = CriuFactAttribute.CriuPath,
        });
        var config = SpecConverter.Convert(SpecLoader.LoadBundle(b.Dir), b.Dir);
        var id = StateRoot.NewId("crfail");
        var (ours, theirs) = SeqPacketSocket.CreatePair();
        using var _o = ours;
        var devnull = File.OpenHandle("/dev/null", FileMode.Open, FileAccess.ReadWrite);
        var container = factory.Create(id, b.Dir, config);
        int nullFd = (int)devnull.DangerousGetHandle();
        using (var process = container.Run(new ProcessIo { Stdin = theirs.Fd, Stdout = nullFd, Stderr = nullFd }))
        {
            process.Detach();
        }
        theirs.Dispose();
        devnull.Dispose();
        var stateBefore = File.ReadAllText(Path.Combine(_root.Path, id, "state.json"));
        int pid = (int)State(_root.Path, id)["pid"]!;
        WaitCounterAbove(b, Base);
        var images = Path.Combine(b.Dir, "failed");

        var e = Assert.Throws<RuntimeException>(() => factory.Load(id).Checkpoint(new CriuOptions { ImagesDirectory = images }));

        Assert.StartsWith("criu dump failed:", e.Message);
        Assert.Contains(Path.Combine(images, "dump.log"), e.Message);
        Assert.DoesNotContain('\n', e.Message);
        var st = State(_root.Path, id);
        Assert.Equal("running", (string)st["status"]!);
        Assert.Equal(pid, (int)st["pid"]!);
        Assert.Equal(stateBefore, File.ReadAllText(Path.Combine(_root.Path, id, "state.json")));
        var freezer = factory.Load(id).Cgroups.Path("freezer")!;
        Assert.Equal("THAWED", File.ReadAllText(Path.Combine(freezer, "freezer.state")).Trim());
        var now = Counter(b);
        Assert.True(WaitCounterAbove(b, now + 3) > now + 3);
        Assert.False(File.Exists(Path.Combine(images, Container.DescriptorsFile)));

        // A restore from the partial images is refused and leaves nothing behind.
        var other = StateRoot.NewId("crpartial");
        var r = Sh($"{Sv(_root.Path)} restore -d -b {b.Dir} --image-path {images} {other} </dev/null >/dev/null 2>&1");
        Assert.NotEqual(0, r.ExitCode);
        Assert.False(Directory.Exists(Path.Combine(_root.Path, other)));
        Assert.False(Directory.Exists($"/sys/fs/cgroup/pids/{other}"));
    }

    [CriuFact]
    public void A_paused_container_checkpointed_with_leave_running_stays_paused()
    {
        var b = CounterBundle();
        var id = RunDetached(b, "crpause");
        WaitCounterAbove(b, Base);
        Assert.Equal(0, Cli.Run(_root.Path, "pause", id).ExitCode);
        var r = Sh($"{Sv(_root.Path)} checkpoint --leave-running --image-path {b.Dir}/paused {id}");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("paused", (string)State(_root.Path, id)["status"]!);
        var frozenAt = Counter(b);
        Thread.Sleep(300);
        Assert.Equal(frozenAt, Counter(b));
        Assert.Equal(0, Cli.Run(_root.Path, "resume", id).ExitCode);
        Assert.True(WaitCounterAbove(b, frozenAt) > frozenAt);
    }

    /// <summary>A paused container dumped without --leave-running is gone like any other, and its restore
    /// runs (the freezer cgroup the dump left frozen is thawed first).</summary>
    [CriuFact]
    public void A_paused_container_checkpointed_is_restored_running()
    {
        var b = CounterBundle();
        var id = RunDetached(b, "crpausecp");
        WaitCounterAbove(b, Base);
        Assert.Equal(0, Cli.Run(_root.Path, "pause", id).ExitCode);
        var frozenAt = Counter(b);
        var r = Sh($"{Sv(_root.Path)} checkpoint {id}");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("checkpointed", (string)State(_root.Path, id)["status"]!);
        Assert.Equal(frozenAt, Counter(b));

        r = Sh($"{Sv(_root.Path)} restore -d {id} </dev/null >/dev/null 2>/dev/null");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("running", (string)State(_root.Path, id)["status"]!);
        AssertResumedFrom(b, frozenAt);
        Assert.Equal(0, Cli.Run(_root.Path, "delete", "--force", id).ExitCode);
    }

    [CriuFact]
    public void A_lazy_pages_checkpoint_is_refused_clearly()
    {
        var b = CounterBundle();
        var id = RunDetached(b, "crlazy");
        var e = Assert.Throws<RuntimeException>(() => new ContainerFactory(new RuntimeOptions
        {
            StateRoot = _root.Path,
            ShimPath = Path.Combine(TestPaths.BinDir, "supervisor-shim"),
            CriuPath = CriuFactAttribute.CriuPath,
        }).Load(id).Checkpoint(new CriuOptions { LazyPages = true }));
        Assert.Contains("lazy-pages checkpoint is not supported", e.Message);
        Assert.Equal("running", (string)State(_root.Path, id)["status"]!);
    }

    [CriuFact]
    public void The_runtime_reports_criu_4_and_a_missing_criu_clearly()
    {
        var v = new CriuClient(CriuFactAttribute.CriuPath).RequireVersion();
        Assert.True(v.Number >= CriuClient.MinimumVersion, v.ToString());
        var b = CounterBundle();
        var id = RunDetached(b, "crnone");
        var r = Cli.Run(_root.Path, "--criu", "/nonexistent/criu", "checkpoint", id);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("criu lookup failed: /nonexistent/criu does not exist", r.Stderr);
        Assert.Equal("running", (string)State(_root.Path, id)["status"]!);
    }
}
