using System.Text.Json.Nodes;
using Supervisor.Security.Tests.Infrastructure;

namespace Supervisor.Security.Tests;

/// <summary>
/// Class 5, CVE-2019-16884, CVE-2019-19921, CVE-2025-31133, CVE-2025-52881: procfs and sysfs. Defences
/// (native/src/shim_rootfs.c): whatever is mounted at /proc must be procfs and /sys sysfs (fstatfs after
/// the mount, do_mount); masked files get the verified 1:3 /dev/null (open_dev_null), read-only paths are
/// recursively read-only (readonly_path); pivot_root detaches the old root (shim_switch_root).
/// </summary>
public sealed class ProcSysfsTests : IDisposable
{
    private readonly StateRoot _root = new();

    public void Dispose() => _root.Dispose();

    [RootFact]
    public void Masked_and_readonly_proc_and_sys_paths_cannot_be_unmounted_remounted_or_written()
    {
        var corePattern = File.ReadAllText("/proc/sys/kernel/core_pattern");
        using var b = new Bundle(_root.Path, args: ["/bin/sh", "-c",
            "umount /proc/timer_list 2>/dev/null && echo UMOUNT-OK; " +
            "umount /proc/sys 2>/dev/null && echo UMOUNTSYS-OK; " +
            "mount -o remount,rw /proc/sys 2>/dev/null && echo REMOUNT-OK; " +
            "mount -o remount,rw /sys 2>/dev/null && echo SYSRW-OK; " +
            "mount -o remount,rw /sys/fs/cgroup 2>/dev/null && echo CGRW-OK; " +
            // Writing back the value just read: harmless to the host even if it got through.
            "cat /proc/sys/kernel/core_pattern > /proc/sys/kernel/core_pattern 2>/dev/null && echo CORE-OK; " +
            "echo timer=$(wc -c < /proc/timer_list); " +
            "echo fstype=$(stat -f -c %T /proc) $(stat -f -c %T /sys); echo done"]);
        var snapshot = HostSnapshot.Take();
        var r = Cli.Run(_root.Path, "run", "-b", b.Dir, StateRoot.NewId("procro"));
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.DoesNotContain("-OK", r.Stdout);
        Assert.Contains("timer=0\n", r.Stdout);
        Assert.Contains("fstype=proc sysfs\n", r.Stdout);
        Assert.Contains("done", r.Stdout);
        Assert.Equal(corePattern, File.ReadAllText("/proc/sys/kernel/core_pattern"));
        snapshot.AssertUnchanged();
    }

    [RootFact]
    public void No_mount_of_the_old_host_root_is_left_in_the_container()
    {
        // The host's "/" mount: its device and root. After pivot_root and the detach, the container's "/"
        // comes from the same device but with the rootfs directory as its root, and nothing else may show
        // the device's root directory.
        var hostRoot = File.ReadAllLines("/proc/self/mountinfo").Select(l => l.Split(' ')).First(f => f[4] == "/");
        using var b = new Bundle(_root.Path, args: ["/bin/sh", "-c", "cat /proc/self/mountinfo; echo ---; ls /proc/1/root/ | wc -l"]);
        var r = Cli.Run(_root.Path, "run", "-b", b.Dir, StateRoot.NewId("oldroot"));
        Assert.True(r.ExitCode == 0, r.ToString());
        var inside = r.Stdout.Split("---")[0].Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')).ToList();
        Assert.DoesNotContain(inside, f => f[2] == hostRoot[2] && f[3] == hostRoot[3]);
        var slash = inside.Single(f => f[4] == "/");
        Assert.EndsWith("/rootfs", slash[3]);
    }

    [RootFact]
    public void A_proc_mount_that_is_not_procfs_is_refused()
    {
        // CVE-2019-16884: a directory bound at /proc looks like /proc to everything that writes there later
        // (masks, labels, sysctls) while it is just a host directory.
        using var canary = new Canary("svsec-fakeproc");
        using var b = new Bundle(_root.Path, args: ["/bin/true"]);
        var mounts = b.Config["mounts"]!.AsArray();
        foreach (var m in mounts.ToList())
            if ((string?)m!["destination"] == "/proc")
                mounts.Remove(m);
        mounts.Insert(0, new JsonObject
        {
            ["destination"] = "/proc", ["type"] = "bind", ["source"] = canary.Dir,
            ["options"] = new JsonArray("rbind"),
        });
        b.Save();
        var snapshot = HostSnapshot.Take([canary.Dir]);
        var r = Cli.Run(_root.Path, "run", "-b", b.Dir, StateRoot.NewId("fakeproc"));
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("only procfs may be mounted at /proc", r.Stderr);
        snapshot.AssertUnchanged();
    }

    [RootFact]
    public void A_dev_null_swapped_for_a_procfs_symlink_never_exposes_that_file()
    {
        // CVE-2025-31133: /dev comes from a host directory whose "null" is a symlink to core_pattern; masking
        // with it would bind core_pattern read-write over the masked paths.
        var corePattern = File.ReadAllText("/proc/sys/kernel/core_pattern");
        using var canary = new Canary("svsec-devnull");
        File.CreateSymbolicLink(Path.Combine(canary.Dir, "null"), "/proc/sys/kernel/core_pattern");
        using var b = new Bundle(_root.Path, args: ["/bin/sh", "-c",
            "echo timer=$(wc -c < /proc/timer_list); echo '|/tmp/pwn' > /proc/timer_list 2>/dev/null && echo WRITE-OK; echo done"]);
        var mounts = b.Config["mounts"]!.AsArray();
        foreach (var m in mounts.ToList())
            if ((string?)m!["destination"] == "/dev")
                mounts.Remove(m);
        mounts.Insert(1, new JsonObject
        {
            ["destination"] = "/dev", ["type"] = "bind", ["source"] = canary.Dir, ["options"] = new JsonArray("rbind"),
        });
        b.Save();
        var r = Cli.Run(_root.Path, "run", "-b", b.Dir, StateRoot.NewId("devnull"));
        if (r.ExitCode == 0)
        {
            Assert.Contains("timer=0\n", r.Stdout);
            Assert.DoesNotContain("WRITE-OK", r.Stdout);
        }
        Assert.Equal(corePattern, File.ReadAllText("/proc/sys/kernel/core_pattern"));
    }
}
