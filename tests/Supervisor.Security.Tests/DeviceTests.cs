using Supervisor.Security.Tests.Infrastructure;

namespace Supervisor.Security.Tests;

/// <summary>
/// Class 7: device access. Defence: the device cgroup starts from "deny all" and allows only the default
/// devices and the pty ones, with no mknod wildcard (src/Supervisor.Runtime/Oci/SpecConverter.cs,
/// DenyAll and DefaultAllowRules; written by Cgroups/V1CgroupManager.cs), and /dev is a fresh tmpfs holding
/// only the default nodes. So even a container granted CAP_MKNOD cannot create or read a host disk.
/// </summary>
public sealed class DeviceTests : IDisposable
{
    private readonly StateRoot _root = new();

    public void Dispose() => _root.Dispose();

    [RootFact]
    public void A_host_disk_node_made_with_cap_mknod_cannot_be_read_and_mem_and_kmsg_are_absent()
    {
        // The device holding the host's root filesystem, e.g. "254:0".
        var rootDev = File.ReadAllLines("/proc/self/mountinfo").Select(l => l.Split(' ')).First(f => f[4] == "/")[2].Split(':');
        using var b = new Bundle(_root.Path);
        var attack = Attacker.InstallInto(b.RootfsPath);
        Containers.AddCaps(b, "CAP_MKNOD", "CAP_DAC_OVERRIDE");
        // /dev is a tmpfs without nodev: a node made there is usable as far as the mount is concerned.
        b.Process["args"] = Containers.Args("/bin/sh", "-c",
            $"{attack} mknod-read /dev/hostdisk b {rootDev[0]} {rootDev[1]}; echo ---; " +
            $"{attack} mknod-read /dev/mem2 c 1 1; echo ---; {attack} mknod-read /dev/kmsg2 c 1 11; echo ---; " +
            "ls /dev/mem /dev/kmsg 2>&1");
        b.Save();
        var snapshot = HostSnapshot.Take();
        var r = Cli.Run(_root.Path, "run", "-b", b.Dir, StateRoot.NewId("dev"));
        Assert.True(r.ExitCode != 0 || r.Stdout.Length > 0, r.ToString());
        var parts = r.Stdout.Split("---\n");
        for (int i = 0; i < 3; i++)
        {
            // The device cgroup has no mknod wildcard (stricter than runc): creating a node that is not on
            // the allow list is already refused. On this kernel opening the disk or kmsg would also fail
            // without the cgroup (EPERM from the block layer and syslog checks), so the refused mknod is
            // what shows the cgroup at work.
            var v = Attacker.Values(parts[i]);
            Assert.True(v["mknod"] == "EPERM", parts[i]);
            Assert.False(v.TryGetValue("read", out var read) && read == "OK", parts[i]);
        }
        Assert.Contains("/dev/mem: No such file or directory", parts[3]);
        Assert.Contains("/dev/kmsg: No such file or directory", parts[3]);
        snapshot.AssertUnchanged();
    }
}
