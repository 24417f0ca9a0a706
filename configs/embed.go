package configs

import "embed"

// Samples holds the sample configuration files shipped with RedCarpet.
//
//go:embed *.toml
var Samples embed.FS

// DemoFile is the name of the demo configuration inside Samples.
const DemoFile = "demo.toml"

// Demo returns the embedded demo configuration, validated.
func Demo() (*Config, error) {
	data, err := Samples.ReadFile(DemoFile)
	if err != nil {
		return nil, err
	}
	return Parse(DemoFile, data)
}
