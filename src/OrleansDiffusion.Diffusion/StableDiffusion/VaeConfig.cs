namespace OrleansDiffusion.Diffusion.StableDiffusion;

/// <summary><c>vae/config.json</c> of an AutoencoderKL, diffusers field names. The property defaults are diffusers'
/// defaults, and <see cref="Read"/> falls back to them (the one place they are written).</summary>
public sealed record VaeConfig
{
    public int InChannels { get; init; } = 3;
    public int OutChannels { get; init; } = 3;
    public int[] BlockOutChannels { get; init; } = [64];
    public int LayersPerBlock { get; init; } = 1;
    public int LatentChannels { get; init; } = 4;
    public int NormNumGroups { get; init; } = 32;
    public double ScalingFactor { get; init; } = 0.18215;
    public int SampleSize { get; init; } = 32;

    /// <summary>Pixels per latent cell along each axis: 2^(blocks − 1).</summary>
    public int ScaleFactor => 1 << (BlockOutChannels.Length - 1);

    public static VaeConfig Read(string path)
    {
        var c = ConfigReader.Open(path);
        var d = new VaeConfig();
        var blocks = c.Ints("block_out_channels", d.BlockOutChannels);
        var config = new VaeConfig
        {
            InChannels = c.Int("in_channels", d.InChannels),
            OutChannels = c.Int("out_channels", d.OutChannels),
            BlockOutChannels = blocks,
            LayersPerBlock = c.Int("layers_per_block", d.LayersPerBlock),
            LatentChannels = c.Int("latent_channels", d.LatentChannels),
            NormNumGroups = c.Int("norm_num_groups", d.NormNumGroups),
            ScalingFactor = c.Double("scaling_factor", d.ScalingFactor),
            SampleSize = c.Int("sample_size", d.SampleSize),
        };
        foreach (var type in c.Strings("down_block_types", []))
            if (type != "DownEncoderBlock2D") throw c.Error("down_block_types", $"'{type}' is not supported (DownEncoderBlock2D)");
        foreach (var type in c.Strings("up_block_types", []))
            if (type != "UpDecoderBlock2D") throw c.Error("up_block_types", $"'{type}' is not supported (UpDecoderBlock2D)");
        if (c.Strings("down_block_types", []).Length is var n && n != 0 && n != blocks.Length)
            throw c.Error("down_block_types", $"lists {n} blocks, block_out_channels {blocks.Length}");
        foreach (var b in blocks)
            if (b % config.NormNumGroups != 0) throw c.Error("block_out_channels", $"{b} is not a multiple of norm_num_groups {config.NormNumGroups}");
        if (c.String("act_fn", "silu") != "silu") throw c.Error("act_fn", "only silu is supported");
        return config;
    }
}
