namespace OrleansDiffusion.Diffusion.StableDiffusion;

/// <summary><c>vae/config.json</c> of an AutoencoderKL, diffusers field names.</summary>
public sealed record VaeConfig
{
    public int InChannels { get; init; } = 3;
    public int OutChannels { get; init; } = 3;
    public int[] BlockOutChannels { get; init; } = [128, 256, 512, 512];
    public int LayersPerBlock { get; init; } = 2;
    public int LatentChannels { get; init; } = 4;
    public int NormNumGroups { get; init; } = 32;
    public double ScalingFactor { get; init; } = 0.18215;
    public int SampleSize { get; init; } = 512;

    /// <summary>Pixels per latent cell along each axis: 2^(blocks − 1).</summary>
    public int ScaleFactor => 1 << (BlockOutChannels.Length - 1);

    public static VaeConfig Read(string path)
    {
        var c = ConfigReader.Open(path);
        var blocks = c.Ints("block_out_channels");
        var config = new VaeConfig
        {
            InChannels = c.Int("in_channels", 3),
            OutChannels = c.Int("out_channels", 3),
            BlockOutChannels = blocks,
            LayersPerBlock = c.Int("layers_per_block", 1),
            LatentChannels = c.Int("latent_channels", 4),
            NormNumGroups = c.Int("norm_num_groups", 32),
            ScalingFactor = c.Double("scaling_factor", 0.18215),
            SampleSize = c.Int("sample_size", 512),
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
