using System.Diagnostics;
using Supervisor.Linux.Bpf;
using Supervisor.Runtime.Cgroups;
using Supervisor.Runtime.Configs;
using Supervisor.Runtime.Oci;

namespace Supervisor.Runtime.Tests.Cgroups;

/// <summary>
/// The compiled device program in the real kernel: the verifier accepts it, and a process in a cgroup2
/// directory carrying it can open /dev/null but neither a block device nor a node it mknods. This host's
/// cgroup2 mount (/sys/fs/cgroup/unified) has no controllers, which does not matter: every cgroup2
/// directory is a BPF_CGROUP_DEVICE attach point.
/// </summary>
[Collection("real cgroups")]
public sealed class DeviceProgramKernelTests : IDisposable
{
    private const string Unified = "/sys/fs/cgroup/unified";
    private readonly string _dir = Path.Combine(Unified, "sv-devtest-" + Guid.NewGuid().ToString("N")[..10]);
    private readonly string _tmp = Directory.CreateTempSubdirectory("sv-devtest").FullName;

    private static IReadOnlyList<DeviceRule> Defaults => [SpecConverter.DenyAll, .. SpecConverter.DefaultAllowRules];

    private static bool HaveCgroup2 => File.Exists(Path.Combine(Unified, "cgroup.procs"));

    public void Dispose()
    {
        // The kernel detaches the program when the cgroup goes away.
        if (Directory.Exists(_dir))
            Directory.Delete(_dir);
        Directory.Delete(_tmp, recursive: true);
    }

    /// <summary>Runs a busybox shell script that first moves itself into the test cgroup.</summary>
    private string RunInCgroup(string script)
    {
        var psi = new ProcessStartInfo("/bin/busybox") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("sh");
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add($"echo $$ > {_dir}/cgroup.procs || exit 99; {script}");
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode != 99, "could not join the cgroup: " + output);
        return output;
    }

    [RootFact]
    public void The_default_program_allows_dev_null_and_denies_a_disk_and_mknod()
    {
        Assert.True(HaveCgroup2, $"no cgroup2 hierarchy at {Unified}");
        var m = new V2CgroupManager(_dir, [], CgroupIo.Real, pureV2: false, ownsDevices: true);
        m.Create(new Resources { Devices = Defaults });
        using (var cg = CgroupDeviceProgram.OpenCgroup(_dir))
            Assert.Single(CgroupDeviceProgram.Query(cg, _dir));

        var output = RunInCgroup(
            "head -c 0 /dev/null && echo null-ok; " +
            "head -c 1 /dev/loop0 >/dev/null 2>&1 && echo loop-read || echo loop-denied; " +
            $"mknod {_tmp}/disk b 7 0 && echo mknod-ok || echo mknod-denied; " +
            "head -c 1 /dev/kmsg >/dev/null 2>&1 && echo kmsg-read || echo kmsg-denied");
        Assert.Contains("null-ok", output);
        Assert.Contains("loop-denied", output);
        Assert.Contains("mknod-denied", output);
        Assert.Contains("kmsg-denied", output);
        Assert.Contains("Operation not permitted", output);
        Assert.False(File.Exists(Path.Combine(_tmp, "disk")));

        // Outside the cgroup the same accesses work, so the program is what refused them.
        using var outside = Process.Start("/bin/busybox", ["sh", "-c", "head -c 1 /dev/loop0 >/dev/null"]);
        outside.WaitForExit();
        Assert.Equal(0, outside.ExitCode);
    }

    [RootFact]
    public void An_update_replaces_the_program_without_stacking_a_second_one()
    {
        Assert.True(HaveCgroup2, $"no cgroup2 hierarchy at {Unified}");
        var m = new V2CgroupManager(_dir, [], CgroupIo.Real, pureV2: false, ownsDevices: true);
        m.Create(new Resources { Devices = Defaults });
        Assert.Contains("loop-denied", RunInCgroup("head -c 1 /dev/loop0 >/dev/null 2>&1 && echo loop-read || echo loop-denied"));

        // Now also allow reading 7:0 (the update carries the full rule list, as runc update does).
        m.Set(new Resources { Devices = [.. Defaults, new DeviceRule(true, 'b', 7, 0, "r")] });
        using (var cg = CgroupDeviceProgram.OpenCgroup(_dir))
            Assert.Single(CgroupDeviceProgram.Query(cg, _dir));
        var output = RunInCgroup("head -c 1 /dev/loop0 >/dev/null 2>&1 && echo loop-read || echo loop-denied; " +
                                 "echo x > /dev/loop0 2>/dev/null && echo loop-written || echo write-denied");
        Assert.Contains("loop-read", output);
        Assert.Contains("write-denied", output);
    }

    [RootFact]
    public void The_verifier_accepts_programs_for_wildcards_and_allow_all()
    {
        IReadOnlyList<DeviceRule>[] sets =
        [
            [],
            [new DeviceRule(true, 'a', null, null, "rwm")],
            [.. Defaults, new DeviceRule(true, 'c', null, null, "m"), new DeviceRule(true, 'b', null, null, "m")],
            [new DeviceRule(true, 'a', null, null, "rwm"), new DeviceRule(false, 'b', 8, null, "rw")],
        ];
        foreach (var rules in sets)
        {
            using var prog = CgroupDeviceProgram.Load(DeviceFilter.Compile(rules), DeviceFilter.License);
            Assert.False(prog.IsInvalid);
        }
    }
}
