package main

import "github.com/spf13/cobra"

// addAdminCommands adds migrate, keys, tenant, user and client.
func (c *cli) addAdminCommands(root *cobra.Command) {}
