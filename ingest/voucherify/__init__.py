"""Voucherify: webhook deliveries, Exports API CSVs and API list pulls, each into its raw table."""
