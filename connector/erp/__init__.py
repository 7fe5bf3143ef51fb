"""ERP adapters. Every adapter implements `connector.erp.protocol.ErpAdapter`."""
