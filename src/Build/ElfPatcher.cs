#nullable enable
using System;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

// Patches libLibTorchSharp.so in place so it loads with a libstdc++ older than GCC 13 (see TorchSharpNative.targets):
// the GLIBCXX_3.4.32 requirement becomes weak, the one symbol that uses it loses its version, and the shim library
// that defines the symbol is added as a DT_NEEDED entry (its name stored in the unused tail of the RUNPATH string).
public sealed class PatchLibTorchSharpForOldLibstdcxx : Task
{
    private const string MissingVersion = "GLIBCXX_3.4.32";
    private const uint ShtDynamic = 6, ShtVerneed = 0x6ffffffe, ShtVersym = 0x6fffffff;
    private const long DtNull = 0, DtNeeded = 1, DtRpath = 15, DtRunpath = 29;

    [Required] public string Directory { get; set; } = "";
    [Required] public string ShimName { get; set; } = "";
    [Output] public bool NeedsPatch { get; set; }
    [Output] public string Patched { get; set; } = "";

    public override bool Execute()
    {
        NeedsPatch = !SystemLibstdcxxHas(MissingVersion);
        if (!NeedsPatch) return true;
        var path = Path.Combine(Directory, "libLibTorchSharp.so");
        if (!File.Exists(path)) return true;
        try
        {
            var elf = File.ReadAllBytes(path);
            if (Patch(elf))
            {
                File.WriteAllBytes(path, elf);
                Patched = path;
                Log.LogMessage(MessageImportance.High, "Patched " + path + " for a libstdc++ without " + MissingVersion + ".");
            }
            return true;
        }
        catch (InvalidDataException e)
        {
            Log.LogError("Cannot patch " + path + ": " + e.Message);
            return false;
        }
    }

    private static bool SystemLibstdcxxHas(string version)
    {
        var candidates = new[]
        {
            "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib/aarch64-linux-gnu/libstdc++.so.6",
            "/usr/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6",
        };
        foreach (var candidate in candidates)
        {
            if (!File.Exists(candidate)) continue;
            var bytes = File.ReadAllBytes(candidate);
            return IndexOf(bytes, Encoding.ASCII.GetBytes(version + "\0"), 0) >= 0;
        }
        return true; // unknown layout: leave the library alone
    }

    private bool Patch(byte[] elf)
    {
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[4] != 2 || elf[5] != 1)
            throw new InvalidDataException("not a little-endian ELF64 file");
        long shoff = I64(elf, 0x28);
        int shentsize = U16(elf, 0x3A), shnum = U16(elf, 0x3C);
        Section? dynamic = null, verneed = null, versym = null;
        var sections = new Section[shnum];
        for (int i = 0; i < shnum; i++)
        {
            var s = new Section(elf, shoff + (long)i * shentsize);
            sections[i] = s;
            if (s.Type == ShtDynamic) dynamic = s;
            else if (s.Type == ShtVerneed) verneed = s;
            else if (s.Type == ShtVersym) versym = s;
        }
        if (dynamic is null || verneed is null || versym is null)
            throw new InvalidDataException("missing .dynamic or symbol version sections");
        var dynstr = sections[dynamic.Link];

        // 1. Make the GLIBCXX_3.4.32 requirement weak; remember its version index.
        int versionIndex = -1;
        bool changed = false;
        long vn = verneed.Offset;
        while (true)
        {
            int count = U16(elf, vn + 2);
            long aux = vn + U32(elf, vn + 8);
            for (int a = 0; a < count; a++)
            {
                if (CString(elf, dynstr.Offset + U32(elf, aux + 8)) == MissingVersion)
                {
                    int flags = U16(elf, aux + 4);
                    if ((flags & 2) == 0) { W16(elf, aux + 4, flags | 2); changed = true; }
                    versionIndex = U16(elf, aux + 6);
                }
                aux += U32(elf, aux + 12);
            }
            uint next = U32(elf, vn + 12);
            if (next == 0) break;
            vn += next;
        }
        if (versionIndex < 0) return false; // this build does not need the newer libstdc++

        // 2. Symbols bound to that version become unversioned (global).
        for (long p = versym.Offset; p < versym.Offset + versym.Size; p += 2)
            if ((U16(elf, p) & 0x7fff) == versionIndex) { W16(elf, p, 1); changed = true; }

        // 3. Add DT_NEEDED for the shim, unless present.
        long runpathEntry = -1, firstNull = -1, nullSlots = 0;
        for (long p = dynamic.Offset; p < dynamic.Offset + dynamic.Size; p += 16)
        {
            long tag = I64(elf, p);
            if (tag == DtNeeded && CString(elf, dynstr.Offset + I64(elf, p + 8)) == ShimName) return changed;
            if (tag == DtRunpath || tag == DtRpath) runpathEntry = p;
            if (tag == DtNull) { if (firstNull < 0) firstNull = p; nullSlots++; }
        }
        if (runpathEntry < 0 || nullSlots < 2)
            throw new InvalidDataException("no RUNPATH or spare dynamic entry to add " + ShimName);
        long runpath = dynstr.Offset + I64(elf, runpathEntry + 8);
        string oldRunpath = CString(elf, runpath);
        const string origin = "$ORIGIN/";
        if (!oldRunpath.StartsWith(origin, StringComparison.Ordinal) || oldRunpath.Length < origin.Length + 1 + ShimName.Length)
            throw new InvalidDataException("RUNPATH '" + oldRunpath + "' has no room for " + ShimName);
        Encoding.ASCII.GetBytes(origin + "\0" + ShimName + "\0").CopyTo(elf, runpath);
        W64(elf, firstNull, DtNeeded);
        W64(elf, firstNull + 8, I64(elf, runpathEntry + 8) + origin.Length + 1);
        return true;
    }

    private sealed class Section
    {
        public Section(byte[] elf, long at)
        {
            Type = U32(elf, at + 4);
            Offset = I64(elf, at + 24);
            Size = I64(elf, at + 32);
            Link = (int)U32(elf, at + 40);
        }
        public uint Type { get; }
        public long Offset { get; }
        public long Size { get; }
        public int Link { get; }
    }

    private static int U16(byte[] b, long at) => b[at] | (b[at + 1] << 8);
    private static uint U32(byte[] b, long at) => BitConverter.ToUInt32(b, (int)at);
    private static long I64(byte[] b, long at) => BitConverter.ToInt64(b, (int)at);
    private static void W16(byte[] b, long at, int v) { b[at] = (byte)v; b[at + 1] = (byte)(v >> 8); }
    private static void W64(byte[] b, long at, long v) => BitConverter.GetBytes(v).CopyTo(b, at);

    private static string CString(byte[] b, long at)
    {
        long end = at;
        while (b[end] != 0) end++;
        return Encoding.ASCII.GetString(b, (int)at, (int)(end - at));
    }

    private static int IndexOf(byte[] haystack, byte[] needle, int start)
    {
        for (int i = start; i <= haystack.Length - needle.Length; i++)
        {
            int j = 0;
            while (j < needle.Length && haystack[i + j] == needle[j]) j++;
            if (j == needle.Length) return i;
        }
        return -1;
    }
}
