"""SYSPRO client: e.net REST session (enet), business objects (apstin, suppliers, purchase_orders,
inventory, queries), OData reader and idempotency look-up (odata), Test connection (connection).

Unconfirmed names and limits live in `contract`; field rules in `fields`; XmlOut reading in `xmlout`.
"""
