using Supervisor.Runtime.Configs;

namespace Supervisor.Runtime.Cgroups;

/// <summary>
/// Compiles device cgroup rules into a BPF_PROG_TYPE_CGROUP_DEVICE program for cgroup v2, with the
/// meaning the same rules have when written in order to a v1 devices.allow/devices.deny:
/// <list type="bullet">
/// <item>the program is default-deny: a device no rule matches is refused (the converter starts every
/// config with "a *:* rwm" denied anyway, and only adds the runtime-spec default devices);</item>
/// <item>the last rule that matches a device and an access bit decides that bit; an "a" rule (all
/// devices) decides every device for the bits it names, like v1's reset of the exception list;</item>
/// <item>a request (an open for read and write, or a mknod) is allowed only if each requested bit is.</item>
/// </list>
/// A wildcard (type "a", or a missing major or minor) appears in the program only when a rule has it.
/// </summary>
public static class DeviceFilter
{
    /// <summary>The license string handed to the kernel; the program calls no GPL-only helper.</summary>
    public const string License = "Apache-2.0";

    // struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }; access_type is
    // (access << 16) | type with type BPF_DEVCG_DEV_BLOCK = 1 or BPF_DEVCG_DEV_CHAR = 2 and access a mask
    // of BPF_DEVCG_ACC_MKNOD = 1, BPF_DEVCG_ACC_READ = 2, BPF_DEVCG_ACC_WRITE = 4.
    internal const int DevBlock = 1, DevChar = 2;
    internal const int AccMknod = 1, AccRead = 2, AccWrite = 4;

    // Opcodes (linux/bpf.h, linux/bpf_common.h).
    private const byte LdxMemW = 0x61;   // BPF_LDX | BPF_MEM | BPF_W
    private const byte Mov64Reg = 0xbf;  // BPF_ALU64 | BPF_MOV | BPF_X
    private const byte Mov64Imm = 0xb7;  // BPF_ALU64 | BPF_MOV | BPF_K
    private const byte And64Imm = 0x57;  // BPF_ALU64 | BPF_AND | BPF_K
    private const byte Rsh64Imm = 0x77;  // BPF_ALU64 | BPF_RSH | BPF_K
    private const byte JaImm = 0x05;     // BPF_JMP | BPF_JA
    private const byte JeqImm = 0x15;    // BPF_JMP | BPF_JEQ | BPF_K
    private const byte JneImm = 0x55;    // BPF_JMP | BPF_JNE | BPF_K
    private const byte Exit = 0x95;      // BPF_JMP | BPF_EXIT

    // Registers: r1 = ctx on entry, r0 = return value.
    private const int R0 = 0, R1 = 1, RType = 2, RAccess = 3, RMajor = 4, RMinor = 5, RBit = 6;

    /// <summary>One instruction before jump resolution: a jump names a label instead of an offset.</summary>
    private readonly record struct Insn(byte Code, int Dst, int Src, short Off, int Imm, Label? Target = null);

    private sealed class Label
    {
        public int Position = -1;
    }

    /// <summary>Compiles <paramref name="rules"/> (in config order) into struct bpf_insn words.</summary>
    public static ulong[] Compile(IReadOnlyList<DeviceRule> rules)
    {
        ArgumentNullException.ThrowIfNull(rules);
        var code = new List<Insn>();
        var deny = new Label();

        code.Add(new Insn(LdxMemW, RType, R1, 0, 0));
        code.Add(new Insn(Mov64Reg, RAccess, RType, 0, 0));
        code.Add(new Insn(And64Imm, RType, 0, 0, 0xffff));
        code.Add(new Insn(Rsh64Imm, RAccess, 0, 0, 16));
        code.Add(new Insn(LdxMemW, RMajor, R1, 4, 0));
        code.Add(new Insn(LdxMemW, RMinor, R1, 8, 0));

        foreach (var (bit, letter) in new[] { (AccMknod, 'm'), (AccRead, 'r'), (AccWrite, 'w') })
        {
            var nextBit = new Label();
            // Bits the request does not ask for need no rule.
            code.Add(new Insn(Mov64Reg, RBit, RAccess, 0, 0));
            code.Add(new Insn(And64Imm, RBit, 0, 0, bit));
            code.Add(new Insn(JeqImm, RBit, 0, 0, 0, nextBit));
            // Last match wins, so the rules are tested newest first and the first hit decides.
            bool decidedForAll = false;
            for (int i = rules.Count - 1; i >= 0; i--)
            {
                var rule = rules[i];
                if (!rule.Access.Contains(letter))
                    continue;
                var decide = rule.Allow ? nextBit : deny;
                if (rule.Type == 'a')
                {
                    // Every device: nothing older can matter for this bit.
                    code.Add(new Insn(JaImm, 0, 0, 0, 0, decide));
                    decidedForAll = true;
                    break;
                }
                var nextRule = new Label();
                code.Add(new Insn(JneImm, RType, 0, 0, rule.Type == 'b' ? DevBlock : DevChar, nextRule));
                if (rule.Major is { } major)
                    code.Add(new Insn(JneImm, RMajor, 0, 0, checked((int)major), nextRule));
                if (rule.Minor is { } minor)
                    code.Add(new Insn(JneImm, RMinor, 0, 0, checked((int)minor), nextRule));
                code.Add(new Insn(JaImm, 0, 0, 0, 0, decide));
                Mark(code, nextRule);
            }
            // No rule names this device for this bit: default deny. (After an "a" rule this would be
            // unreachable, which the verifier rejects.)
            if (!decidedForAll)
                code.Add(new Insn(JaImm, 0, 0, 0, 0, deny));
            Mark(code, nextBit);
        }
        code.Add(new Insn(Mov64Imm, R0, 0, 0, 1));
        code.Add(new Insn(Exit, 0, 0, 0, 0));
        // Rules that allow everything leave no path to the deny block; the verifier refuses dead code.
        if (code.Any(i => i.Target == deny))
        {
            Mark(code, deny);
            code.Add(new Insn(Mov64Imm, R0, 0, 0, 0));
            code.Add(new Insn(Exit, 0, 0, 0, 0));
        }
        return Encode(code);
    }

    /// <summary>
    /// What the compiled program decides, evaluated in managed code with the same semantics: the reference
    /// the unit tests hold the program to, and a way to explain a rule set.
    /// </summary>
    public static bool Allows(IReadOnlyList<DeviceRule> rules, char type, long major, long minor, string access)
    {
        foreach (var letter in access)
        {
            bool? decided = null;
            for (int i = rules.Count - 1; i >= 0 && decided is null; i--)
            {
                var r = rules[i];
                if (!r.Access.Contains(letter))
                    continue;
                if (r.Type == 'a' || (r.Type == type || (r.Type == 'u' && type == 'c')) && (r.Major is null || r.Major == major) && (r.Minor is null || r.Minor == minor))
                    decided = r.Allow;
            }
            if (decided != true)
                return false;
        }
        return true;
    }

    private static void Mark(List<Insn> code, Label label) => label.Position = code.Count;

    private static ulong[] Encode(List<Insn> code)
    {
        var words = new ulong[code.Count];
        for (int pc = 0; pc < code.Count; pc++)
        {
            var i = code[pc];
            short off = i.Off;
            if (i.Target is { } t)
            {
                if (t.Position < 0)
                    throw new InvalidOperationException("device program: unresolved jump");
                // Jump offsets count from the next instruction; every jump here goes forward.
                off = checked((short)(t.Position - pc - 1));
            }
            words[pc] = i.Code
                        | (ulong)(byte)((i.Src << 4) | (i.Dst & 0xf)) << 8
                        | (ulong)(ushort)off << 16
                        | (ulong)(uint)i.Imm << 32;
        }
        return words;
    }
}
