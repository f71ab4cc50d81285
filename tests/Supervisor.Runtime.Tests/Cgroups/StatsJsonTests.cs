using System.Text.Json;
using Supervisor.Runtime.Cgroups;
using Supervisor.Runtime.Configs;

namespace Supervisor.Runtime.Tests.Cgroups;

public class StatsJsonTests
{
    private static List<string> Keys(JsonElement e) => e.EnumerateObject().Select(p => p.Name).ToList();

    [Fact]
    public void EventShape_MatchesRunc()
    {
        using var f = CgroupFixture.V1();
        var m = f.Manager("/c1");
        m.Create(new Resources { Pids = new PidsResources { Limit = 20 } });
        var json = CgroupStatsJson.ToEventJson("web1", m.GetStats(), null);
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;

        Assert.Equal(["type", "id", "data"], Keys(root));
        Assert.Equal("stats", root.GetProperty("type").GetString());
        Assert.Equal("web1", root.GetProperty("id").GetString());
        var data = root.GetProperty("data");
        Assert.Equal(["cpu", "cpuset", "memory", "pids", "blkio", "hugetlb", "intel_rdt", "network_interfaces"], Keys(data));
        Assert.Equal(JsonValueKind.Null, data.GetProperty("network_interfaces").ValueKind);
        Assert.Empty(Keys(data.GetProperty("intel_rdt")));

        var cpu = data.GetProperty("cpu");
        Assert.Equal(["usage", "throttling"], Keys(cpu));
        Assert.Equal(["total", "percpu", "percpu_kernel", "percpu_user", "kernel", "user"], Keys(cpu.GetProperty("usage")));
        Assert.Equal(["periods", "throttledPeriods", "throttledTime"], Keys(cpu.GetProperty("throttling")));
        Assert.Equal(18542458UL, cpu.GetProperty("usage").GetProperty("total").GetUInt64());

        var mem = data.GetProperty("memory");
        Assert.Equal(["cache", "usage", "swap", "kernel", "kernelTCP", "raw"], Keys(mem));
        Assert.Equal(["limit", "usage", "max", "failcnt"], Keys(mem.GetProperty("usage")));
        Assert.Equal(9223372036854771712UL, mem.GetProperty("usage").GetProperty("limit").GetUInt64());
        // Zero usage and max are omitted, as Go's omitempty does; limit and failcnt always appear.
        Assert.Equal(["limit", "failcnt"], Keys(mem.GetProperty("kernelTCP")));
        Assert.Equal(["cache", "hierarchical_memory_limit", "rss", "total_rss"], Keys(mem.GetProperty("raw")));

        Assert.Equal(["current", "limit"], Keys(data.GetProperty("pids")));
        Assert.Equal(20UL, data.GetProperty("pids").GetProperty("limit").GetUInt64());
        Assert.Equal(["ioServiceBytesRecursive", "ioServicedRecursive"], Keys(data.GetProperty("blkio")));
        Assert.Equal(["major", "op", "value"], Keys(data.GetProperty("blkio").GetProperty("ioServiceBytesRecursive")[0]));
        Assert.Equal(["1GB", "2MB"], Keys(data.GetProperty("hugetlb")));
        Assert.Equal(["failcnt"], Keys(data.GetProperty("hugetlb").GetProperty("2MB")));
        Assert.Equal(["cpus", "cpu_exclusive", "mems", "mem_hardwall", "mem_exclusive", "memory_migrate", "memory_spread_page",
            "memory_spread_slab", "memory_pressure", "sched_load_balance", "sched_relax_domain_level"], Keys(data.GetProperty("cpuset")));
    }

    [Fact]
    public void EmptyStats_LookLikeRuncsEmptyStructs()
    {
        var json = CgroupStatsJson.ToEventJson("x", new CgroupStats(), null);
        Assert.Contains("\"throttling\":{}", json);
        Assert.Contains("\"blkio\":{}", json);
        Assert.Contains("\"hugetlb\":{}", json);
        Assert.Contains("\"pids\":{}", json);
        Assert.Contains("\"usage\":{\"kernel\":0,\"user\":0}", json);
        Assert.Contains("\"kernelTCP\":{\"limit\":0,\"failcnt\":0}", json);
        Assert.DoesNotContain("\"raw\"", json);
    }

    [Fact]
    public void NetworkInterfaces_UseRuncFieldNames()
    {
        var json = CgroupStatsJson.ToEventJson("x", new CgroupStats(), [new NetworkInterfaceStats("eth0", 1, 2, 3, 4, 5, 6, 7, 8)]);
        using var doc = JsonDocument.Parse(json);
        var nic = doc.RootElement.GetProperty("data").GetProperty("network_interfaces")[0];
        Assert.Equal(["name", "rx_bytes", "rx_packets", "rx_errors", "rx_dropped", "tx_bytes", "tx_packets", "tx_errors", "tx_dropped"], Keys(nic));
        Assert.Equal(8UL, nic.GetProperty("tx_dropped").GetUInt64());
    }

    [Fact]
    public void OomEvent_HasNoData() =>
        Assert.Equal("{\"type\":\"oom\",\"id\":\"c1\"}", CgroupStatsJson.ToOomEventJson("c1"));
}
