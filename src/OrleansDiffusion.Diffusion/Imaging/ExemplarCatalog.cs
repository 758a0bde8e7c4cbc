using System.Numerics;
using System.Text.RegularExpressions;
using TorchSharp;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Imaging;

/// <summary>Turns a prompt (or a user's PNG) into an exemplar for the built-in denoiser. The first word that
/// names a material picks the texture (marble when none does); the first colour word tints it.</summary>
public static partial class ExemplarCatalog
{
    /// <summary>The texture used when no word in the prompt names one.</summary>
    public const string DefaultTexture = "marble";

    // How far a colour word pulls the texture toward its colour; the rest keeps the material's own palette.
    private const float TintStrength = 0.75f;

    /// <summary>Prompt words (singular; a plural "s" is dropped when the word itself is unknown) to textures.</summary>
    internal static readonly IReadOnlyDictionary<string, string> TextureWords = new Dictionary<string, string>
    {
        ["marble"] = "marble", ["granite"] = "marble", ["quartz"] = "marble", ["onyx"] = "marble",
        ["brick"] = "bricks", ["wall"] = "bricks", ["masonry"] = "bricks", ["chimney"] = "bricks",
        ["wood"] = "wood", ["wooden"] = "wood", ["timber"] = "wood", ["plank"] = "wood", ["oak"] = "wood",
        ["pine"] = "wood", ["walnut"] = "wood", ["floorboard"] = "wood",
        ["cloud"] = "clouds", ["sky"] = "clouds", ["cumulus"] = "clouds", ["weather"] = "clouds",
        ["cell"] = "cells", ["biology"] = "cells", ["tissue"] = "cells", ["microscope"] = "cells",
        ["microscopy"] = "cells", ["cellular"] = "cells", ["histology"] = "cells",
        ["terrain"] = "terrain", ["landscape"] = "terrain", ["mountain"] = "terrain", ["map"] = "terrain",
        ["hill"] = "terrain", ["valley"] = "terrain", ["aerial"] = "terrain", ["satellite"] = "terrain",
        ["topography"] = "terrain",
        ["lava"] = "lava", ["magma"] = "lava", ["volcano"] = "lava", ["volcanic"] = "lava", ["molten"] = "lava",
        ["water"] = "water", ["pool"] = "water", ["caustic"] = "water", ["ocean"] = "water", ["sea"] = "water",
        ["lake"] = "water", ["underwater"] = "water",
        ["stone"] = "stone", ["rock"] = "stone", ["cobble"] = "stone", ["cobblestone"] = "stone",
        ["pavement"] = "stone", ["paving"] = "stone", ["flagstone"] = "stone", ["pebble"] = "stone",
    };

    /// <summary>Colour words to the colour a texture is tinted toward (linear 0..1 RGB).</summary>
    internal static readonly IReadOnlyDictionary<string, Vector3> ColourWords = new Dictionary<string, Vector3>
    {
        ["red"] = new(0.78f, 0.12f, 0.10f),
        ["orange"] = new(0.95f, 0.50f, 0.10f),
        ["yellow"] = new(0.95f, 0.85f, 0.20f),
        ["green"] = new(0.20f, 0.60f, 0.22f),
        ["blue"] = new(0.15f, 0.32f, 0.82f),
        ["purple"] = new(0.50f, 0.20f, 0.65f),
        ["violet"] = new(0.50f, 0.20f, 0.65f),
        ["pink"] = new(0.95f, 0.55f, 0.72f),
        ["brown"] = new(0.45f, 0.28f, 0.12f),
        ["gray"] = new(0.50f, 0.50f, 0.50f),
        ["grey"] = new(0.50f, 0.50f, 0.50f),
        ["white"] = new(0.95f, 0.95f, 0.95f),
        ["black"] = new(0.06f, 0.06f, 0.06f),
        ["gold"] = new(0.85f, 0.65f, 0.15f),
        ["golden"] = new(0.85f, 0.65f, 0.15f),
        ["teal"] = new(0.00f, 0.50f, 0.50f),
    };

    /// <summary>Picks and generates the exemplar a prompt describes; the name is the texture's.</summary>
    public static Exemplar FromPrompt(string prompt, int size = 128, long seed = 0)
    {
        var (texture, colour) = Read(prompt);
        var image = ProceduralTextures.Generate(texture, size, seed);
        if (colour is { } target)
        {
            using var untinted = image;
            image = Tint(untinted, target);
        }

        return new Exemplar(texture, image);
    }

    /// <summary>The texture a prompt picks (the name <see cref="FromPrompt"/> gives its exemplar), without generating it.</summary>
    public static string TextureFor(string prompt) => Read(prompt).Texture;

    /// <summary>The first texture word and the first colour word of the prompt.</summary>
    private static (string Texture, Vector3? Colour) Read(string prompt)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        string? texture = null;
        Vector3? colour = null;
        foreach (Match match in Word().Matches(prompt.ToLowerInvariant()))
        {
            if (texture is null && TryLookup(TextureWords, match.Value, out var named)) texture = named;
            if (colour is null && TryLookup(ColourWords, match.Value, out var tint)) colour = tint;
        }
        return (texture ?? DefaultTexture, colour);
    }

    /// <summary>The name <see cref="FromFile"/> gives a user's PNG.</summary>
    public static string NameOfFile(string path) => Path.GetFileNameWithoutExtension(path);

    /// <summary>Uses a user's PNG as the exemplar, named after the file.</summary>
    public static Exemplar FromFile(string path) =>
        new(NameOfFile(path), ImageLoader.LoadRgb(path));

    /// <summary>Uses a user's PNG that travelled with the job as the exemplar.</summary>
    public static Exemplar FromImage(Abstractions.ExemplarImage image) =>
        new(image.Name, ImageLoader.LoadRgb(image.Png, image.Name));

    /// <summary>Blends toward a duotone through <paramref name="colour"/>: luminance below the image mean runs from
    /// black to the colour, above it from the colour to white, so structure survives and the mean moves to the colour.</summary>
    internal static Tensor Tint(Tensor image, Vector3 colour)
    {
        using var scope = NewDisposeScope();
        var rgb = ScalarMath.Over(image.clone().AddInPlace(1), 2);
        var luminance = ScalarMath.Times(rgb[0], 0.299).Plus(ScalarMath.Times(rgb[1], 0.587)).Plus(ScalarMath.Times(rgb[2], 0.114)).unsqueeze(0);
        var mean = Math.Clamp(luminance.mean().item<float>(), 1e-3f, 1 - 1e-3f);
        using var meanScalar = mean.ToScalar();
        var target = tensor(new[] { colour.X, colour.Y, colour.Z }).reshape(3, 1, 1);
        var towardColour = target.mul(ScalarMath.Over(luminance, mean));
        var towardWhite = target.Plus(ScalarMath.Times(target, -1).AddInPlace(1).mul(ScalarMath.Over(luminance.clone().AddInPlace(-mean), 1 - mean)));
        var duotone = where(luminance.le(meanScalar), towardColour, towardWhite);
        var tinted = ScalarMath.Times(ScalarMath.Clamp(rgb.Plus(ScalarMath.Times(duotone.sub(rgb), TintStrength)), 0, 1), 2).AddInPlace(-1);
        return tinted.MoveToOuterDisposeScope();
    }

    private static bool TryLookup<TValue>(IReadOnlyDictionary<string, TValue> words, string word, out TValue value) =>
        words.TryGetValue(word, out value!) || (word.EndsWith('s') && words.TryGetValue(word[..^1], out value!));

    [GeneratedRegex(@"\p{L}+")]
    private static partial Regex Word();
}
