using System.Globalization;

namespace ExoFS.Kernel.Udf;

/// <summary>
/// Text form to <see cref="UdfProgram"/>. Checks syntax only; every error names its 1-based line.
/// Labels are case-sensitive, mnemonics, directives and register names are not.
/// </summary>
internal static class UdfParser
{
    private sealed class SyntaxError(string message) : Exception(message);

    public static UdfParseResult Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        try
        {
            return new UdfParseResult(ParseOrThrow(text), null);
        }
        catch (SyntaxError e)
        {
            // A private exception keeps the many nested checks short; it never escapes this method.
            return new UdfParseResult(null, e.Message);
        }
    }

    private static UdfProgram ParseOrThrow(string text)
    {
        string? name = null;
        int? partitions = null, fuel = null, inputs = null;
        List<string>? types = null;
        var reads = new List<UdfReadDirective>();
        var code = new List<UdfInstruction>();
        var labels = new List<UdfLabel>();
        var labelLines = new Dictionary<string, int>(StringComparer.Ordinal);

        // A byte-order mark from an editor is not part of the program.
        var lines = text.TrimStart('\uFEFF').Split('\n');
        for (int n = 0; n < lines.Length; n++)
        {
            int line = n + 1;
            string s = lines[n];
            int semi = s.IndexOf(';');
            if (semi >= 0) s = s[..semi];
            s = s.Trim();
            if (s.Length == 0) continue;

            if (name is null && !s.StartsWith(".udf", StringComparison.OrdinalIgnoreCase))
                throw Error($"missing .udf NAME: the first directive must be .udf", line);

            if (s[0] == '.')
            {
                var tok = s.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
                string d = tok[0].ToLowerInvariant();
                switch (d)
                {
                    case ".udf":
                        if (name is not null) throw Error("duplicate directive .udf", line);
                        if (tok.Length != 2) throw Error(".udf takes one NAME", line);
                        name = tok[1];
                        break;
                    case ".partitions":
                        if (partitions is not null) throw Error("duplicate directive .partitions", line);
                        if (tok.Length != 2) throw Error(".partitions takes one number", line);
                        partitions = Int(tok[1], line);
                        break;
                    case ".fuel":
                        if (fuel is not null) throw Error("duplicate directive .fuel", line);
                        if (tok.Length != 2) throw Error(".fuel takes one number", line);
                        fuel = Int(tok[1], line);
                        break;
                    case ".inputs":
                        if (inputs is not null) throw Error("duplicate directive .inputs", line);
                        if (tok.Length != 2) throw Error(".inputs takes one number", line);
                        inputs = Int(tok[1], line);
                        break;
                    case ".types":
                        if (types is not null) throw Error("duplicate directive .types", line);
                        types = tok.Skip(1).ToList();
                        break;
                    case ".read":
                        if (tok.Length is not (3 or 4)) throw Error(".read takes OFF LEN [STRIDE]", line);
                        reads.Add(new UdfReadDirective(Int(tok[1], line), Int(tok[2], line), tok.Length == 4 ? Int(tok[3], line) : 0, line));
                        break;
                    default:
                        throw Error($"unknown directive {tok[0]}", line);
                }
                continue;
            }

            // Leading labels: "name:" possibly followed by an instruction on the same line.
            while (true)
            {
                int colon = s.IndexOf(':');
                if (colon <= 0 || !IsLabelName(s[..colon].TrimEnd())) break;
                string label = s[..colon].TrimEnd();
                if (labelLines.TryGetValue(label, out int first))
                    throw Error($"duplicate label '{label}' (first at line {first})", line);
                labelLines[label] = line;
                labels.Add(new UdfLabel(label, code.Count, line));
                s = s[(colon + 1)..].Trim();
            }
            if (s.Length == 0) continue;
            code.Add(Instruction(s, line));
        }

        if (name is null) throw new SyntaxError("empty program: no .udf directive");
        return new UdfProgram(name, partitions ?? 1, types ?? [], reads, fuel ?? UdfLimits.MaxFuel, code, labels, inputs ?? 0);
    }

    private static UdfInstruction Instruction(string s, int line)
    {
        int sp = 0;
        while (sp < s.Length && !char.IsWhiteSpace(s[sp])) sp++;
        string mnemonic = s[..sp];
        string rest = s[sp..].Trim();
        if (UdfOps.Forbidden.Contains(mnemonic))
            throw new SyntaxError($"not allowed: {mnemonic.ToLowerInvariant()} (UDFs may not store / call out / read the clock) at line {line}");
        if (!UdfOps.ByMnemonic.TryGetValue(mnemonic, out var op))
            throw Error($"unknown opcode '{mnemonic}'", line);
        var a = rest.Length == 0 ? [] : rest.Split(',').Select(t => t.Trim()).ToArray();

        void Expect(int count, string shape)
        {
            if (a.Length != count || a.Any(t => t.Length == 0))
                throw Error($"{UdfOps.Name(op)} expects {shape}", line);
        }

        switch (op)
        {
            case UdfOp.Li:
                Expect(2, "rd, IMM");
                return new(op, Reg(a[0], line), 0, 0, Imm(a[1], line), false, 0, null, line);
            case UdfOp.Mov:
                Expect(2, "rd, rs");
                return new(op, Reg(a[0], line), Reg(a[1], line), 0, 0, false, 0, null, line);
            case UdfOp.Jmp:
                Expect(1, "label");
                return new(op, 0, 0, 0, 0, false, 0, Label(a[0], line), line);
            case UdfOp.Loop:
                Expect(2, "rc, label");
                return new(op, 0, Reg(a[0], line), 0, 0, false, 0, Label(a[1], line), line);
            case UdfOp.Emit:
            {
                Expect(3, "TYPEIDX, rs, rc|IMM");
                long t = Imm(a[0], line);
                if (t is < 0 or > int.MaxValue) throw Error($"bad type index '{a[0]}'", line);
                var (rb, imm, isImm) = RegOrImm(a[2], line);
                return new(op, 0, Reg(a[1], line), rb, imm, isImm, (int)t, null, line);
            }
            case UdfOp.Ret:
            {
                Expect(1, "rs|IMM");
                var (rb, imm, isImm) = RegOrImm(a[0], line);
                return new(op, 0, 0, rb, imm, isImm, 0, null, line);
            }
        }
        if (UdfOps.IsAlu(op))
        {
            Expect(3, "rd, ra, rb|IMM");
            var (rb, imm, isImm) = RegOrImm(a[2], line);
            return new(op, Reg(a[0], line), Reg(a[1], line), rb, imm, isImm, 0, null, line);
        }
        if (UdfOps.IsBranch(op))
        {
            Expect(3, "ra, rb|IMM, label");
            var (rb, imm, isImm) = RegOrImm(a[1], line);
            return new(op, 0, Reg(a[0], line), rb, imm, isImm, 0, Label(a[2], line), line);
        }
        // Loads: ld rd, [ra], [ra+IMM] or [ra-IMM].
        Expect(2, "rd, [ra+IMM]");
        string m = a[1];
        if (m.Length < 3 || m[0] != '[' || m[^1] != ']')
            throw Error($"{UdfOps.Name(op)} expects rd, [ra+IMM], not '{m}'", line);
        string inner = m[1..^1].Trim();
        int sign = inner.IndexOfAny(['+', '-']);
        int baseReg = Reg(sign < 0 ? inner : inner[..sign].Trim(), line);
        long off = 0;
        if (sign >= 0)
        {
            off = Imm(inner[(sign + 1)..].Trim(), line);
            if (inner[sign] == '-') off = unchecked(-off);
        }
        return new(op, Reg(a[0], line), baseReg, 0, off, false, 0, null, line);
    }

    private static bool IsLabelName(string s) =>
        s.Length > 0 && (char.IsAsciiLetter(s[0]) || s[0] is '_' or '.') &&
        s.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '.');

    private static string Label(string s, int line) =>
        IsLabelName(s) ? s : throw Error($"bad label '{s}'", line);

    private static bool LooksLikeRegister(string s) =>
        s.Length >= 2 && (s[0] is 'r' or 'R') && s.Skip(1).All(char.IsAsciiDigit);

    private static int Reg(string s, int line)
    {
        if (LooksLikeRegister(s))
        {
            if (s.Length <= 4 && int.TryParse(s.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out int r) && r < UdfLimits.Registers)
                return r;
            throw new SyntaxError($"bad register {s.ToLowerInvariant()} at line {line}");
        }
        throw new SyntaxError($"bad register '{s}' at line {line}");
    }

    private static (int Reg, long Imm, bool IsImm) RegOrImm(string s, int line) =>
        LooksLikeRegister(s) ? (Reg(s, line), 0, false) : (0, Imm(s, line), true);

    /// <summary>Decimal (optionally signed) or 0x hex; any 64-bit pattern, stored as two's complement.</summary>
    internal static long Imm(string s, int line)
    {
        string t = s;
        bool neg = false;
        if (t.StartsWith('-')) { neg = true; t = t[1..]; }
        else if (t.StartsWith('+')) t = t[1..];
        bool ok = t.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? ulong.TryParse(t.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong mag)
            : ulong.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out mag);
        if (!ok || t.Length == 0 || (neg && mag > 1UL << 63))
            throw Error($"bad immediate '{s}'", line);
        return neg ? unchecked((long)(0UL - mag)) : unchecked((long)mag);
    }

    private static int Int(string s, int line)
    {
        long v = Imm(s, line);
        return v is >= int.MinValue and <= int.MaxValue ? (int)v : throw Error($"number '{s}' out of range", line);
    }

    private static SyntaxError Error(string message, int line) => new($"{message} at line {line}");
}
