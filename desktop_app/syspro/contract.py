"""Names and limits from docs/syspro-contract.md that are not confirmed by a public source.

Kept in one place so that a site whose SYSPRO differs can be accommodated by changing one module
(or, for OData entity sets, the `syspro.odata_entities` setting).
"""
from __future__ import annotations

import re

# Key and text lengths the client enforces before sending (contract "Key lengths").
MAX_LENGTH = {
    "Supplier": 15,
    "Invoice": 20,
    "StockCode": 30,
    "LedgerCode": 35,
    "Warehouse": 10,
    "PurchaseOrder": 20,
    "Branch": 10,
    "Reference": 50,
    "Notation": 50,
    # REPORTED (rectella, SYSPRO reference guides) or SYSPRO 8 column sizes; not in the contract.
    "SupplierName": 50,
    "SupShortName": 20,
    "Address": 40,
    "PostalCode": 15,
    "CustomerPoNumber": 30,
    "Description": 30,
}

# An `ERROR...` body that names the user id or session means SYSPRO no longer knows the session.
SESSION_ERROR = re.compile(r"userid|user id|session", re.IGNORECASE)
# The one session answer that proves the call was turned away before any business object ran.
INVALID_USERID = re.compile(r"invalid\s+userid", re.IGNORECASE)

# APSTIN duplicate (supplier, invoice) rejection.
DUPLICATE_ERROR_NUMBER = "110402"
DUPLICATE_TEXT = re.compile(r"already exists|duplicate", re.IGNORECASE)

# e.net REST operation paths under {enet_url}.
LOGON = "Logon"
LOGOFF = "Logoff"
QUERY = "Query/Query"
SETUP = "Setup/{action}"
POST = "Transaction/Post"

# OData entity sets (default names = SYSPRO table names) and the columns the client reads.
ODATA_ENTITIES = {
    "ApInvoice": ("Supplier", "Invoice", "DocumentType", "InvoiceDate", "PostDate", "DueDate", "Branch",
                  "OrigInvValue", "OrigTaxValue", "Journal", "TrnYear", "TrnMonth", "Reference", "Notation"),
    "ApSupplier": ("Supplier", "SupplierName", "SupShortName", "Branch", "Currency", "TermsCode", "OnHold",
                   "Telephone", "Email", "SupAddr1", "SupAddr2", "SupAddr3", "SupAddr4", "SupAddr5",
                   "SupPostalCode", "SupplierClass"),
    "InvMaster": ("StockCode", "Description", "StockUom", "Decimals", "ProductClass", "Supplier"),
    "InvWarehouse": ("StockCode", "Warehouse", "QtyOnHand"),
    "InvWhControl": ("Warehouse", "Description", "Branch"),
    "GenMaster": ("GlCode", "Description", "AccountType"),
    "PorMasterHdr": ("PurchaseOrder", "Supplier", "OrderEntryDate", "OrderDueDate", "Warehouse", "OrderStatus",
                     "CustomerPoNumber", "Branch"),
    "PorMasterDetail": ("PurchaseOrder", "Line", "MStockCode", "MStockDes", "MWarehouse", "MOrderQty",
                        "MReceivedQty", "MPrice", "MGlCode"),
    # transactions against an AP invoice: where a credit note applied to an invoice is kept (assumed, see
    # docs/syspro-contract.md "Credit notes")
    "ApInvoicePay": ("Supplier", "Invoice", "TrnType", "TrnDate", "PostDate", "TrnValue", "Journal", "Reference",
                     "Notation"),
    "InvMovements": ("StockCode", "Warehouse", "EntryDate", "MovementType", "TrnType", "TrnQty", "TrnValue",
                     "Reference", "Journal", "EntryNumber"),
}
# Of those columns, the ones a flow cannot run without: its keys, the columns it filters and sorts
# on, and those whose blank would be taken for real data (a cancelled PO status, a PO price, the
# reference that finds our own adjustments). A site whose OData lacks one gets a configuration
# error naming it; the other columns read as empty where a site lacks them.
ODATA_REQUIRED = {
    "ApInvoice": ("Supplier", "Invoice", "InvoiceDate"),
    "ApSupplier": ("Supplier", "SupplierName"),
    "InvMaster": ("StockCode",),
    "InvWarehouse": ("StockCode", "Warehouse"),
    "InvWhControl": ("Warehouse",),
    "GenMaster": ("GlCode",),
    "PorMasterHdr": ("PurchaseOrder", "Supplier", "OrderEntryDate", "Warehouse", "OrderStatus", "CustomerPoNumber"),
    "PorMasterDetail": ("PurchaseOrder", "Line", "MStockCode", "MOrderQty", "MPrice"),
    "InvMovements": ("StockCode", "Warehouse", "EntryDate", "TrnType", "TrnQty", "Reference", "EntryNumber"),
}
# What cannot run without an entity set's required columns, for the messages.
ODATA_USED_BY = {
    "ApInvoice": "the invoice read-back",
    "ApSupplier": "the vendor sync",
    "InvMaster": "the stock-code list",
    "InvWarehouse": "the stock-level read",
    "InvWhControl": "the warehouse list",
    "GenMaster": "the GL-code list",
    "PorMasterHdr": "the purchase-order sync",
    "PorMasterDetail": "the purchase-order sync",
    "InvMovements": "the inventory-adjustment sync",
}
ODATA_PAGE_SIZE = 1000
# Pages one OData read may take before it is taken for a server that never ends (10 million rows at
# the page size above: no company holds that many in one entity set the sync reads).
ODATA_MAX_PAGES = 10_000

# COMFND table used to look up AP invoices when OData is not available.
AP_INVOICE_TABLE = "ApInvoice"
AP_INVOICE_PAY_TABLE = "ApInvoicePay"
