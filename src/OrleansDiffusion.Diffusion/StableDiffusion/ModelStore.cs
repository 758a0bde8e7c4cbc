using OrleansDiffusion.Abstractions;

namespace OrleansDiffusion.Diffusion.StableDiffusion;

/// <summary>What a model store says about one model, from its configs and weight headers (no weights read).</summary>
/// <param name="Family">"sd1" (CLIP ViT-L text encoder, 768 wide) or "sd2" (OpenCLIP ViT-H, 1024 wide); "" when the folder does not open.</param>
/// <param name="Error">why the folder does not open as a model (the strict check's message), or null.</param>
public sealed record ModelInfo(string Name, string Folder, string Family, long Parameters, IReadOnlyList<string> DTypes, string? Error = null);

/// <summary>A model name the store refuses, or that names no model in it.</summary>
public sealed class ModelStoreException(string name, string message) : Exception(message)
{
    public string Name { get; } = name;
}

/// <summary>
/// A models directory: each model is a diffusers folder directly under it, named by its folder (<c>sd15</c> →
/// <c>&lt;models&gt;/sd15</c>). Names follow <see cref="ModelNames.Check"/>, so a name is never a path; a folder
/// whose real location (symbolic links resolved, at every level) lies outside the directory is refused, and so are
/// weight files that resolve outside it. Listing reads configs and weight headers only.
/// </summary>
public sealed class ModelStore
{
    private readonly string _realDirectory;

    public ModelStore(string directory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        Directory = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory));
        if (!System.IO.Directory.Exists(Directory)) throw new DirectoryNotFoundException($"the models directory '{Directory}' does not exist");
        _realDirectory = RealPath(Directory);
    }

    public string Directory { get; }

    /// <summary>The folder of model <paramref name="name"/>; a <see cref="ModelStoreException"/> says why not.</summary>
    public string Resolve(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (ModelNames.Check(name) is { } problem) throw new ModelStoreException(name, problem);
        var folder = Path.Combine(Directory, name);
        if (!System.IO.Directory.Exists(folder)) throw new ModelStoreException(name, $"model '{name}' is not in the model store {Directory}");
        if (!IsInside(RealPath(folder), _realDirectory))
            throw new ModelStoreException(name, $"model '{name}' links outside the model store {Directory}");
        return folder;
    }

    /// <summary>Opens model <paramref name="name"/> strictly (headers only), refusing weight files that resolve outside the store.</summary>
    public DiffusersFolder Open(string name)
    {
        var folder = DiffusersFolder.Open(Resolve(name));
        foreach (var file in folder.Weights.SelectMany(w => w.File.Files.Select(f => f.Path).Append(w.Path)))
            if (!IsInside(RealPath(file), _realDirectory))
                throw new ModelStoreException(name, $"model '{name}': {Path.GetRelativePath(Directory, file)} links outside the model store");
        return folder;
    }

    /// <summary>Name, family, parameter count and weight dtypes of model <paramref name="name"/>.</summary>
    public ModelInfo Describe(string name)
    {
        var folder = Open(name);
        return new ModelInfo(name, folder.Root, Family(folder), folder.Weights.Sum(w => w.Parameters),
            folder.Weights.SelectMany(w => w.DTypes).Distinct().Order(StringComparer.Ordinal).ToArray());
    }

    /// <summary>Every folder under the directory with a <c>model_index.json</c> and a valid name, by name; folders
    /// that do not open are listed with their <see cref="ModelInfo.Error"/>.</summary>
    public IReadOnlyList<ModelInfo> List()
    {
        var models = new List<ModelInfo>();
        foreach (var folder in System.IO.Directory.EnumerateDirectories(Directory).Order(StringComparer.Ordinal))
        {
            var name = Path.GetFileName(folder);
            if (ModelNames.Check(name) is not null || !File.Exists(Path.Combine(folder, "model_index.json"))) continue;
            try
            {
                models.Add(Describe(name));
            }
            catch (Exception e) when (e is ModelFormatException or ModelStoreException or IOException or UnauthorizedAccessException)
            {
                models.Add(new ModelInfo(name, folder, "", 0, [], e.Message));
            }
        }
        return models;
    }

    /// <summary>"sd1" or "sd2" from the text encoder's width (768: CLIP ViT-L/14; 1024: OpenCLIP ViT-H/14), else "sd-&lt;width&gt;".</summary>
    public static string Family(DiffusersFolder folder) => folder.TextEncoder.HiddenSize switch
    {
        768 => "sd1",
        1024 => "sd2",
        var width => $"sd-{width}",
    };

    private static bool IsInside(string path, string directory) =>
        path.StartsWith(directory + Path.DirectorySeparatorChar, StringComparison.Ordinal);

    /// <summary>The path with every symbolic link along it resolved.</summary>
    internal static string RealPath(string path)
    {
        var full = Path.GetFullPath(path);
        var root = Path.GetPathRoot(full)!;
        var current = root;
        var parts = new Queue<string>(full[root.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries));
        for (var hops = 0; parts.Count > 0;)
        {
            var next = Path.Combine(current, parts.Dequeue());
            FileSystemInfo info = System.IO.Directory.Exists(next) ? new DirectoryInfo(next) : new FileInfo(next);
            if (info.LinkTarget is { } target)
            {
                if (++hops > 40) throw new IOException($"too many symbolic links resolving '{path}'");
                var resolved = Path.GetFullPath(Path.IsPathRooted(target) ? target : Path.Combine(current, target));
                var rest = parts.ToArray();
                var resolvedRoot = Path.GetPathRoot(resolved)!;
                parts = new Queue<string>(resolved[resolvedRoot.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries).Concat(rest));
                current = resolvedRoot;
                continue;
            }
            current = next;
        }
        return current;
    }
}
