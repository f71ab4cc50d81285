using Supervisor.Runtime.Cgroups;
using Supervisor.Runtime.Configs;
using Supervisor.Runtime.Oci;

namespace Supervisor.Runtime.Tests.Cgroups;

/// <summary>
/// The device program compiler, checked by running its output in a small interpreter of the eBPF
/// instructions it may emit, against the v1 meaning of the same rule list (<see cref="DeviceFilter.Allows"/>).
/// </summary>
public sealed class DeviceFilterTests
{
    /// <summary>Runs a compiled program on a bpf_cgroup_dev_ctx; only the opcodes the compiler emits exist.</summary>
    internal static int Run(ulong[] prog, char type, uint major, uint minor, string access)
    {
        uint acc = 0;
        foreach (var c in access)
            acc |= c switch { 'm' => 1u, 'r' => 2u, 'w' => 4u, _ => throw new ArgumentException(access) };
        uint[] ctx = [(acc << 16) | (type == 'b' ? 1u : 2u), major, minor];
        var r = new ulong[11];
        r[1] = 0xC0000000; // the ctx pointer, as an address the loads below recognise
        int steps = 0;
        for (int pc = 0; pc < prog.Length;)
        {
            Assert.True(++steps < 100_000, "program does not terminate");
            ulong w = prog[pc];
            byte code = (byte)w;
            int dst = (int)(w >> 8) & 0xf, src = (int)(w >> 12) & 0xf;
            short off = (short)(w >> 16);
            int imm = (int)(w >> 32);
            pc++;
            switch (code)
            {
                case 0x61:
                    Assert.Equal(0xC0000000ul, r[src]);
                    Assert.True(off is 0 or 4 or 8, $"ctx load at {off}");
                    r[dst] = ctx[off / 4];
                    break;
                case 0xbf: r[dst] = r[src]; break;
                case 0xb7: r[dst] = (ulong)(long)imm; break;
                case 0x57: r[dst] &= (ulong)(long)imm; break;
                case 0x77: r[dst] >>= imm; break;
                case 0x05: pc += off; break;
                case 0x15: if (r[dst] == (ulong)(long)imm) pc += off; break;
                case 0x55: if (r[dst] != (ulong)(long)imm) pc += off; break;
                case 0x95: return (int)r[0];
                default: throw new InvalidOperationException($"unexpected opcode 0x{code:x2}");
            }
            Assert.True(off >= 0 || code is not (0x05 or 0x15 or 0x55), "backward jump");
        }
        throw new InvalidOperationException("fell off the end of the program");
    }

    private static readonly IReadOnlyList<DeviceRule> Defaults = [SpecConverter.DenyAll, .. SpecConverter.DefaultAllowRules];

    private static readonly (char Type, uint Major, uint Minor)[] Devices =
    [
        ('c', 1, 3), ('c', 1, 5), ('c', 1, 7), ('c', 1, 8), ('c', 1, 9), ('c', 5, 0), ('c', 5, 1), ('c', 5, 2),
        ('c', 136, 0), ('c', 136, 7), ('c', 10, 200), ('c', 1, 1), ('c', 1, 11), ('b', 7, 0), ('b', 8, 0), ('b', 1, 3),
        ('c', 4, 0), ('c', 254, 0),
    ];

    private static readonly string[] Accesses = ["r", "w", "m", "rw", "rwm", "rm"];

    private static void AgreesWithV1(IReadOnlyList<DeviceRule> rules)
    {
        var prog = DeviceFilter.Compile(rules);
        foreach (var (t, ma, mi) in Devices)
            foreach (var a in Accesses)
                Assert.True(DeviceFilter.Allows(rules, t, ma, mi, a) == (Run(prog, t, ma, mi, a) == 1), $"{t} {ma}:{mi} {a}");
    }

    [Fact]
    public void The_default_rules_allow_exactly_the_default_devices_and_ptys()
    {
        var prog = DeviceFilter.Compile(Defaults);
        foreach (var (ma, mi) in new (uint, uint)[] { (1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0), (5, 2), (136, 0), (136, 42) })
            Assert.Equal(1, Run(prog, 'c', ma, mi, "rw"));
        // Not the disk, not /dev/mem (1:1), not /dev/kmsg (1:11), not /dev/console (5:1), not tun.
        Assert.Equal(0, Run(prog, 'b', 8, 0, "r"));
        Assert.Equal(0, Run(prog, 'b', 7, 0, "rw"));
        Assert.Equal(0, Run(prog, 'c', 1, 1, "r"));
        Assert.Equal(0, Run(prog, 'c', 1, 11, "r"));
        Assert.Equal(0, Run(prog, 'c', 5, 1, "w"));
        Assert.Equal(0, Run(prog, 'c', 10, 200, "rw"));
        AgreesWithV1(Defaults);
    }

    [Fact]
    public void Mknod_of_any_device_is_denied_without_a_wildcard_rule_and_allowed_with_one()
    {
        Assert.Equal(0, Run(DeviceFilter.Compile(Defaults), 'b', 8, 0, "m"));
        Assert.Equal(0, Run(DeviceFilter.Compile(Defaults), 'c', 4, 0, "m"));
        // runc's "c *:* m" and "b *:* m", only when the config asks for them.
        IReadOnlyList<DeviceRule> withMknod = [.. Defaults, new DeviceRule(true, 'c', null, null, "m"), new DeviceRule(true, 'b', null, null, "m")];
        var prog = DeviceFilter.Compile(withMknod);
        Assert.Equal(1, Run(prog, 'b', 8, 0, "m"));
        Assert.Equal(0, Run(prog, 'b', 8, 0, "r"));
        AgreesWithV1(withMknod);
    }

    [Fact]
    public void The_last_matching_rule_wins_per_access_bit()
    {
        IReadOnlyList<DeviceRule> rules =
        [
            SpecConverter.DenyAll,
            new DeviceRule(true, 'c', 1, 3, "rwm"),
            new DeviceRule(false, 'c', 1, 3, "w"),   // later: takes write away again
            new DeviceRule(true, 'c', 1, null, "r"),  // wildcard minor, read only
            new DeviceRule(false, 'c', 1, 9, "r"),
        ];
        var prog = DeviceFilter.Compile(rules);
        Assert.Equal(1, Run(prog, 'c', 1, 3, "r"));
        Assert.Equal(1, Run(prog, 'c', 1, 3, "m"));
        Assert.Equal(0, Run(prog, 'c', 1, 3, "w"));
        Assert.Equal(0, Run(prog, 'c', 1, 3, "rw"));
        Assert.Equal(1, Run(prog, 'c', 1, 5, "r"));
        Assert.Equal(0, Run(prog, 'c', 1, 5, "w"));
        Assert.Equal(0, Run(prog, 'c', 1, 9, "r"));
        Assert.Equal(0, Run(prog, 'b', 1, 5, "r"));
        AgreesWithV1(rules);
    }

    [Fact]
    public void Allow_all_followed_by_denials_is_a_deny_list()
    {
        IReadOnlyList<DeviceRule> rules = [new DeviceRule(true, 'a', null, null, "rwm"), new DeviceRule(false, 'b', 8, null, "rw")];
        var prog = DeviceFilter.Compile(rules);
        Assert.Equal(1, Run(prog, 'c', 4, 0, "rw"));
        Assert.Equal(0, Run(prog, 'b', 8, 1, "r"));
        Assert.Equal(1, Run(prog, 'b', 8, 1, "m"));
        AgreesWithV1(rules);
    }

    [Fact]
    public void An_empty_list_denies_everything_and_allow_all_allows_everything()
    {
        AgreesWithV1([]);
        Assert.Equal(0, Run(DeviceFilter.Compile([]), 'c', 1, 3, "r"));
        var all = DeviceFilter.Compile([new DeviceRule(true, 'a', null, null, "rwm")]);
        Assert.Equal(1, Run(all, 'b', 8, 0, "rwm"));
        // No path leads to a deny, so no deny block (dead code the verifier would reject) is emitted.
        Assert.DoesNotContain(all, w => (byte)w == 0xb7 && (int)(w >> 32) == 0);
    }

    [Fact]
    public void Every_jump_lands_inside_the_program_and_goes_forward()
    {
        var prog = DeviceFilter.Compile([.. Defaults, new DeviceRule(false, 'c', 5, null, "w"), new DeviceRule(true, 'b', 7, 0, "r")]);
        for (int pc = 0; pc < prog.Length; pc++)
        {
            byte code = (byte)prog[pc];
            if (code is 0x05 or 0x15 or 0x55)
            {
                short off = (short)(prog[pc] >> 16);
                Assert.InRange(pc + 1 + off, pc + 1, prog.Length - 1);
            }
        }
        Assert.Equal(0x95, (byte)prog[^1]);
    }
}
