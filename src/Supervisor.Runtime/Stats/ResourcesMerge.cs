using Supervisor.Runtime.Configs;

namespace Supervisor.Runtime.Stats;

/// <summary>
/// Applies an update (runc's `update` flags or a linux.resources document) onto the current resources:
/// every value the update sets replaces the current one, everything else stays, so the state file keeps
/// describing exactly what is in the kernel.
/// </summary>
public static class ResourcesMerge
{
    public static Resources Merge(Resources current, Resources update) => current with
    {
        Memory = Merge(current.Memory, update.Memory),
        Cpu = Merge(current.Cpu, update.Cpu),
        Pids = update.Pids ?? current.Pids,
        BlockIo = Merge(current.BlockIo, update.BlockIo),
        HugepageLimits = update.HugepageLimits.Count > 0 ? update.HugepageLimits : current.HugepageLimits,
        Network = update.Network ?? current.Network,
        Devices = update.Devices.Count > 0 ? update.Devices : current.Devices,
        Unified = update.Unified.Count > 0 ? new Dictionary<string, string>(current.Unified.Concat(update.Unified)
            .GroupBy(kv => kv.Key).ToDictionary(g => g.Key, g => g.Last().Value)) : current.Unified,
    };

    private static MemoryResources? Merge(MemoryResources? c, MemoryResources? u) => u is null ? c : c is null ? u : new MemoryResources
    {
        Limit = u.Limit ?? c.Limit,
        Reservation = u.Reservation ?? c.Reservation,
        Swap = u.Swap ?? c.Swap,
        Kernel = u.Kernel ?? c.Kernel,
        KernelTcp = u.KernelTcp ?? c.KernelTcp,
        Swappiness = u.Swappiness ?? c.Swappiness,
        DisableOomKiller = u.DisableOomKiller ?? c.DisableOomKiller,
        UseHierarchy = u.UseHierarchy ?? c.UseHierarchy,
        CheckBeforeUpdate = u.CheckBeforeUpdate ?? c.CheckBeforeUpdate,
    };

    private static CpuResources? Merge(CpuResources? c, CpuResources? u) => u is null ? c : c is null ? u : new CpuResources
    {
        Shares = u.Shares ?? c.Shares,
        Quota = u.Quota ?? c.Quota,
        Period = u.Period ?? c.Period,
        Burst = u.Burst ?? c.Burst,
        RealtimeRuntime = u.RealtimeRuntime ?? c.RealtimeRuntime,
        RealtimePeriod = u.RealtimePeriod ?? c.RealtimePeriod,
        Cpus = u.Cpus ?? c.Cpus,
        Mems = u.Mems ?? c.Mems,
        Idle = u.Idle ?? c.Idle,
    };

    private static BlockIoResources? Merge(BlockIoResources? c, BlockIoResources? u) => u is null ? c : c is null ? u : c with
    {
        Weight = u.Weight ?? c.Weight,
        LeafWeight = u.LeafWeight ?? c.LeafWeight,
        WeightDevices = u.WeightDevices.Count > 0 ? u.WeightDevices : c.WeightDevices,
        ThrottleReadBpsDevices = u.ThrottleReadBpsDevices.Count > 0 ? u.ThrottleReadBpsDevices : c.ThrottleReadBpsDevices,
        ThrottleWriteBpsDevices = u.ThrottleWriteBpsDevices.Count > 0 ? u.ThrottleWriteBpsDevices : c.ThrottleWriteBpsDevices,
        ThrottleReadIopsDevices = u.ThrottleReadIopsDevices.Count > 0 ? u.ThrottleReadIopsDevices : c.ThrottleReadIopsDevices,
        ThrottleWriteIopsDevices = u.ThrottleWriteIopsDevices.Count > 0 ? u.ThrottleWriteIopsDevices : c.ThrottleWriteIopsDevices,
    };
}
