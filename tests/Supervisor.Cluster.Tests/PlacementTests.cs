using Supervisor.Cluster;

namespace Supervisor.Cluster.Tests;

public class PlacementTests
{
    private static NodeLoad Node(string address, int running, long free, string[]? roles = null, Dictionary<string, string>? labels = null) =>
        new(address, roles ?? ["supervisor"], labels ?? new Dictionary<string, string>(), running, free);

    private static PlacementConstraints Labels(params (string Key, string Value)[] labels) =>
        new(null, labels.ToDictionary(l => l.Key, l => l.Value));

    [Fact]
    public void Fewest_running_containers_wins_over_more_free_memory()
    {
        var nodes = new[] { Node("a", 3, 64L << 30), Node("b", 1, 1L << 30), Node("c", 2, 32L << 30) };
        Assert.Equal("b", Placement.Choose(nodes, PlacementConstraints.None).Node!.Address);
    }

    [Fact]
    public void Equal_counts_go_to_the_node_with_most_free_memory()
    {
        var nodes = new[] { Node("a", 2, 4L << 30), Node("b", 2, 8L << 30), Node("c", 5, 64L << 30) };
        Assert.Equal("b", Placement.Choose(nodes, PlacementConstraints.None).Node!.Address);
    }

    [Fact]
    public void Full_ties_go_to_the_lowest_address_whatever_the_input_order()
    {
        var nodes = new[] { Node("akka.tcp://supervisor@127.0.0.1:4057", 1, 100), Node("akka.tcp://supervisor@127.0.0.1:4055", 1, 100), Node("akka.tcp://supervisor@127.0.0.1:4056", 1, 100) };
        Assert.Equal("akka.tcp://supervisor@127.0.0.1:4055", Placement.Choose(nodes, PlacementConstraints.None).Node!.Address);
        Assert.Equal("akka.tcp://supervisor@127.0.0.1:4055", Placement.Choose(nodes.Reverse().ToArray(), PlacementConstraints.None).Node!.Address);
    }

    [Fact]
    public void A_role_constraint_keeps_only_nodes_with_that_role()
    {
        var nodes = new[] { Node("a", 0, 100), Node("b", 9, 1, ["supervisor", "gpu"]) };
        var (node, _) = Placement.Choose(nodes, new PlacementConstraints("gpu", new Dictionary<string, string>()));
        Assert.Equal("b", node!.Address);
    }

    [Fact]
    public void Every_label_must_match_with_the_same_value()
    {
        var nodes = new[]
        {
            Node("a", 0, 100, labels: new() { ["zone"] = "a", ["disk"] = "ssd" }),
            Node("b", 5, 100, labels: new() { ["zone"] = "b", ["disk"] = "ssd" }),
            Node("c", 0, 100, labels: new() { ["zone"] = "b" }),
        };
        Assert.Equal("b", Placement.Choose(nodes, Labels(("zone", "b"), ("disk", "ssd"))).Node!.Address);
        Assert.Equal(["c", "b"], Placement.Rank(nodes, Labels(("zone", "b"))).Select(n => n.Address));
    }

    [Fact]
    public void Label_values_are_compared_exactly()
    {
        var nodes = new[] { Node("a", 0, 100, labels: new() { ["zone"] = "A" }) };
        var (node, reason) = Placement.Choose(nodes, Labels(("zone", "a")));
        Assert.Null(node);
        Assert.Equal("none of 1 nodes fits zone=a", reason);
    }

    [Fact]
    public void Excluded_nodes_are_skipped_even_when_they_are_best()
    {
        var nodes = new[] { Node("a", 0, 100), Node("b", 4, 100) };
        Assert.Equal("b", Placement.Choose(nodes, PlacementConstraints.None, ["a"]).Node!.Address);
        var (none, reason) = Placement.Choose(nodes, PlacementConstraints.None, ["a", "b"]);
        Assert.Null(none);
        Assert.Contains("excluded: a, b", reason);
    }

    [Fact]
    public void No_reports_yet_is_said_as_such()
    {
        var (node, reason) = Placement.Choose([], new PlacementConstraints("gpu", new Dictionary<string, string>()));
        Assert.Null(node);
        Assert.Equal("no node has reported its load yet", reason);
    }

    [Fact]
    public void Constraints_are_described_role_first_then_labels_in_order()
    {
        var c = new PlacementConstraints("gpu", new Dictionary<string, string> { ["zone"] = "b", ["disk"] = "ssd" });
        Assert.Equal("role gpu, disk=ssd, zone=b", Placement.Describe(c));
        Assert.Equal("no constraints", Placement.Describe(PlacementConstraints.None));
    }

    [Fact]
    public void MemAvailable_is_read_in_bytes()
    {
        const string text = "MemTotal:        8000000 kB\nMemFree:          100000 kB\nMemAvailable:    2500000 kB\nBuffers: 1 kB\n";
        Assert.Equal(2500000L * 1024, MemInfo.Parse(text));
        Assert.Equal(0, MemInfo.Parse("MemTotal: 1 kB\n"));
        Assert.True(MemInfo.Available() > 0);
    }

    [Fact]
    public void A_node_constraint_keeps_only_the_node_with_that_address_and_is_named_in_the_reason()
    {
        var nodes = new[] { Node("akka.tcp://supervisor@127.0.0.1:4055", 0, 100), Node("akka.tcp://supervisor@127.0.0.1:4056", 9, 1) };
        var pinned = new PlacementConstraints(null, new Dictionary<string, string>(), "akka.tcp://supervisor@127.0.0.1:4056");
        Assert.Equal("akka.tcp://supervisor@127.0.0.1:4056", Placement.Choose(nodes, pinned).Node!.Address);

        var elsewhere = pinned with { Node = "akka.tcp://supervisor@127.0.0.1:4999" };
        var (none, reason) = Placement.Choose(nodes, elsewhere);
        Assert.Null(none);
        Assert.Contains("node akka.tcp://supervisor@127.0.0.1:4999", reason);
        // Excluded after it refused: nothing else may stand in for a pinned node.
        Assert.Null(Placement.Choose(nodes, pinned, ["akka.tcp://supervisor@127.0.0.1:4056"]).Node);
    }

    [Fact]
    public void Without_a_remote_policy_a_node_admits_the_cluster_api_and_admins_but_not_an_operators_config()
    {
        var admission = TrustedOnlyAdmission.Instance;
        WorkloadSpec Spec(string? config, string? role) => new("w", "/b", "no", PlacementConstraints.None, config, role);
        Assert.Null(admission.Refuse(Spec(null, null)));
        Assert.Null(admission.Refuse(Spec("{}", null)));
        Assert.Null(admission.Refuse(Spec("{}", AdmissionRoles.Admin)));
        Assert.Contains("no remote-control policy", admission.Refuse(Spec("{}", AdmissionRoles.Operator)));
        Assert.Contains("unknown requester role", admission.Refuse(Spec("{}", "root")));
    }
}
