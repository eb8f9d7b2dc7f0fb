"""Records of `StState` in the exact shape of ServiceTitan's v2 response schemas.

Each function fills every property the OpenAPI schema lists (required ones always, optional
ones as null/empty like the live API does) and nothing else: the schemas forbid extra
properties. Accounting amounts become strings here; inventory/pricebook amounts stay Decimal and
are written as JSON numbers by `st_wire.dumps`.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from desktop_app.sandbox.st_wire import iso, iso_day, money

ZERO = Decimal("0")


def _moment(value: datetime | date | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return iso(value)
    return iso_day(value)


def external_data(record: dict, guid: str | None = None) -> list[dict]:
    store = record.get("externalData") or {}
    pairs = []
    for app, values in store.items():
        if guid is None or app == guid.lower():
            pairs.extend({"key": key, "value": value} for key, value in values.items())
    return pairs


def _address(address: dict | None) -> dict:
    address = address or {}
    return {key: address.get(key) for key in ("street", "unit", "city", "state", "zip", "country")}


# --- accounting -------------------------------------------------------------------------------
def _gl_ref(account: dict | None) -> dict | None:
    if not account:
        return None
    return {"id": account["id"], "name": account.get("name"), "number": account.get("number"),
            "type": account.get("type"), "detailType": account.get("detailType")}


def invoice_item(item: dict, invoice: dict, *, export: bool = False) -> dict:
    out = {
        "id": item["id"],
        "description": item.get("description"),
        "quantity": money(item["quantity"]),
        "cost": money(item["cost"]),
        "totalCost": money(item["totalCost"]),
        "budgetCodeId": None,
        "inventoryLocationId": item.get("inventoryLocationId"),
        "inventoryLocation": item.get("inventoryLocation"),
        "price": money(item["price"]),
        "type": item["type"],
        "skuName": item.get("skuName"),
        "skuId": item["skuId"],
        "total": money(item["total"]),
        "inventory": bool(item.get("inventory", False)),
        "taxable": bool(item.get("taxable", False)),
        "isChargeable": True,
        "generalLedgerAccount": _gl_ref(item.get("generalLedgerAccount")),
        "costOfSaleAccount": _gl_ref(item.get("costOfSaleAccount")),
        "assetAccount": _gl_ref(item.get("assetAccount")),
        "membershipTypeId": 0,
        "itemGroup": None,
        "displayName": item.get("skuName"),
        "soldHours": item.get("soldHours"),
        "createdOn": iso(item["createdOn"]),
        "modifiedOn": iso(item["modifiedOn"]),
        "serviceDate": _moment(invoice.get("invoiceDate")),
        "order": item["order"],
        "businessUnit": invoice.get("businessUnit"),
        "createdById": None,
        "displayInAmount": True,
        "importId": None,
        "exportId": None,
        "inventoryStatus": None,
        "addOn": False,
        "memberPrice": money(item["price"]),
        "technicianId": item.get("technicianId"),
        "installedEquipmentId": None,
        "estimateItemId": None,
    }
    if export:
        out["active"] = bool(invoice.get("active", True))
        out["invoiceId"] = invoice["id"]
    return out


def invoice(inv: dict) -> dict:
    """InvoiceResponse; ExportInvoiceResponse has the same properties."""
    return {
        "id": inv["id"],
        "syncStatus": inv.get("syncStatus", "Pending"),
        "budgetCodeId": None,
        "referenceNumber": inv.get("referenceNumber"),
        "invoiceDate": _moment(inv.get("invoiceDate")),
        "dueDate": _moment(inv.get("dueDate")),
        "subTotal": money(inv["subTotal"]),
        "salesTax": money(inv["salesTax"]),
        "salesTaxCode": inv.get("salesTaxCode"),
        "taxZoneId": None,
        "total": money(inv["total"]),
        "balance": money(inv.get("balance", inv["total"])),
        "invoiceType": inv.get("invoiceType"),
        "customer": inv.get("customer"),
        "customerAddress": _address(inv.get("customerAddress")),
        "location": inv.get("location"),
        "locationAddress": _address(inv.get("locationAddress")),
        "businessUnit": inv.get("businessUnit"),
        "termName": inv.get("termName", "Due Upon Receipt"),
        "createdBy": inv.get("createdBy"),
        "batch": None,
        "depositedOn": None,
        "createdOn": iso(inv["createdOn"]),
        "modifiedOn": iso(inv["modifiedOn"]),
        "adjustmentToId": inv.get("adjustmentToId"),
        "job": inv.get("job"),
        "projectId": None,
        "royalty": {"status": "Pending", "date": None, "sentOn": None, "memo": None},
        "employeeInfo": inv.get("employeeInfo"),
        "commissionEligibilityDate": None,
        "sentStatus": inv.get("sentStatus", "NotSent"),
        "reviewStatus": inv.get("reviewStatus", "Reviewed"),
        "assignedTo": None,
        "summary": inv.get("summary"),
        "items": [invoice_item(item, inv) for item in inv.get("items", [])],
        "customFields": [],
        "active": bool(inv.get("active", True)),
        "discountTotal": "0.00",
        "importId": None,
        "exportId": inv.get("exportId"),
        "materialSkuId": None,
        "membershipId": None,
        "paidOn": None,
        "invoiceConfiguration": inv.get("invoiceConfiguration", "JobInvoice"),
    }


def gl_account(account: dict) -> dict:
    return {
        "id": account["id"], "name": account["name"], "number": account["number"],
        "description": account.get("description"), "type": account.get("type"),
        "subtype": account.get("subtype"), "active": bool(account.get("active", True)),
        "isIntacctGroup": False, "isIntacctBankAccount": False,
        "source": account.get("source", "AccountingSystem"),
        "defaultAccountType": account.get("defaultAccountType"),
        "createdOn": iso(account["createdOn"]), "modifiedOn": iso(account["modifiedOn"]),
    }


def ap_bill(bill: dict) -> dict:
    return {
        "id": bill["id"], "purchaseOrderId": bill.get("purchaseOrderId"),
        "syncStatus": bill.get("syncStatus", "Pending"),
        "status": bill.get("status", "Unreconciled"), "source": bill.get("source", "Purchasing"),
        "billType": "Procurement", "postDate": None, "referenceNumber": bill.get("referenceNumber"),
        "vendorNumber": bill.get("vendorNumber"), "summary": bill.get("summary"),
        "billDate": _moment(bill.get("billDate")), "earlyDiscountDate": None,
        "billAmount": money(bill["billAmount"]), "vendorInvoiceTotal": money(bill["billAmount"]),
        "taxAmount": money(bill.get("taxAmount", ZERO)), "shippingAmount": money(bill.get("shippingAmount", ZERO)),
        "landedCostMethod": "None", "otherAmount": "0.00", "createdBy": None,
        "createdOn": iso(bill["createdOn"]), "modifiedOn": iso(bill["modifiedOn"]), "termName": "Net 30",
        "dueDate": _moment(bill.get("dueDate")), "doNotPay": False, "dateCanceled": None, "canceledBy": None,
        "shipToDescription": None, "batch": None, "businessUnit": bill.get("businessUnit"), "taxZone": None,
        "vendor": bill.get("vendor"), "remittanceVendorInfo": None, "shipTo": None, "budgetCodeId": None,
        "items": [
            {
                "order": index, "name": item["name"], "description": item.get("description"),
                "quantity": money(item["quantity"]), "cost": money(item["cost"]), "allocatedTax": "0.00",
                "allocatedShipping": "0.00", "allocatedOtherCosts": "0.00", "fullyLandedUnitCost": money(item["cost"]),
                "inventoryLocation": item.get("inventoryLocation"), "vendorPartNumber": item.get("vendorPartNumber"),
                "serialNumber": None, "generalLedgerAccount": None, "costOfSaleAccount": None, "assetAccount": None,
                "id": item["id"], "skuId": item["skuId"], "receiptItemId": None, "skuType": item["skuType"],
                "skuCode": item["skuCode"], "budgetCodeId": None,
            }
            for index, item in enumerate(bill.get("items", []), start=1)
        ],
        "expenseItems": [], "customFields": [], "jobId": None, "jobNumber": None, "dateReconciled": None,
    }


# --- inventory --------------------------------------------------------------------------------
def vendor(v: dict, guid: str | None = None) -> dict:
    contact = v.get("contactInfo") or {}
    return {
        "id": v["id"], "name": v["name"], "active": bool(v.get("active", True)),
        "isTruckReplenishment": bool(v.get("isTruckReplenishment", False)),
        "isMobileCreationRestricted": bool(v.get("isMobileCreationRestricted", False)),
        "memo": v.get("memo") or "", "deliveryOption": v.get("deliveryOption") or "Manual",
        "defaultTaxRate": v.get("defaultTaxRate", ZERO),
        "contactInfo": {key: contact.get(key) or "" for key in ("firstName", "lastName", "phone", "email", "fax")},
        "address": _address(v.get("address")),
        "createdOn": iso(v["createdOn"]), "modifiedOn": iso(v["modifiedOn"]),
        "externalData": external_data(v, guid), "customFields": [],
    }


def _po_item(item: dict) -> dict:
    return {
        "id": item["id"], "skuId": item["skuId"], "description": item.get("description") or "",
        "createdOn": iso(item["createdOn"]), "modifiedOn": iso(item["modifiedOn"]),
        "skuName": item.get("skuName") or "", "skuCode": item.get("skuCode") or "",
        "skuType": item.get("skuType") or "Material", "vendorPartNumber": item.get("vendorPartNumber") or "",
        "quantity": item["quantity"], "quantityReceived": item.get("quantityReceived", ZERO),
        "cost": item["cost"], "total": item["total"], "serialNumbers": [], "status": item.get("status", "Pending"),
        "chargeable": bool(item.get("chargeable", False)), "budgetCodeId": item.get("budgetCodeId"),
    }


def purchase_order(po: dict) -> dict:
    """PurchaseOrderResponse; ExportPurchaseOrdersResponse has the same properties."""
    return {
        "id": po["id"], "number": po["number"], "invoiceId": None, "jobId": po.get("jobId"),
        "projectId": po.get("projectId"), "status": po["status"], "typeId": po["typeId"], "vendorId": po["vendorId"],
        "technicianId": po.get("technicianId"), "shipTo": _address(po.get("shipTo")),
        "businessUnitId": po.get("businessUnitId"), "inventoryLocationId": po.get("inventoryLocationId"),
        "batchId": None, "budgetCodeId": po.get("budgetCodeId"),
        "vendorDocumentNumber": po.get("vendorDocumentNumber") or "", "date": _moment(po["date"]),
        "requiredOn": _moment(po.get("requiredOn")), "sentOn": _moment(po.get("sentOn")),
        "receivedOn": _moment(po.get("receivedOn")), "createdOn": iso(po["createdOn"]),
        "modifiedOn": iso(po["modifiedOn"]), "total": po["total"], "tax": po.get("tax", ZERO),
        "shipping": po.get("shipping", ZERO), "createdById": None, "summary": po.get("summary") or "",
        "items": [_po_item(item) for item in po["items"]], "customFields": [],
    }


def receipt(r: dict) -> dict:
    return {
        "id": r["id"], "active": True, "number": r["number"], "vendorInvoiceNumber": r.get("vendorInvoiceNumber") or "",
        "createdById": None, "memo": r.get("memo") or "", "purchaseOrderId": r["purchaseOrderId"],
        "billId": r.get("billId"), "jobId": None, "businessUnitId": r.get("businessUnitId"), "vendorId": r["vendorId"],
        "technicianId": None, "inventoryLocationId": r["inventoryLocationId"], "shipTo": None,
        "shipToDescription": r.get("shipToDescription") or "", "receiptAmount": r["receiptAmount"],
        "taxAmount": ZERO, "shippingAmount": ZERO, "receivedOn": _moment(r.get("receivedOn")),
        "createdOn": iso(r["createdOn"]), "modifiedOn": iso(r["modifiedOn"]), "batchId": None,
        "syncStatus": r.get("syncStatus", "Pending"), "budgetCodeId": None, "landedCostMethod": "None",
        "otherAmount": None,
        "items": [
            {
                "id": item["id"], "skuId": item["skuId"], "name": item["name"], "code": item["code"],
                "description": item.get("description") or "", "quantity": item["quantity"], "cost": item["cost"],
                "generalLedgerAccount": None, "costOfSaleAccount": None, "assetAccount": None,
                "purchaseOrderItemId": item["purchaseOrderItemId"], "budgetCodeId": None, "allocatedShipping": None,
                "allocatedTax": None, "allocatedOtherCosts": None, "fullyLandedUnitCost": item["cost"],
            }
            for item in r["items"]
        ],
        "customFields": [],
    }


def adjustment(a: dict, guid: str | None = None) -> dict:
    """InventoryAdjustmentResponse; ExportAdjustmentsResponse has the same properties."""
    return {
        "id": a["id"], "active": bool(a.get("active", True)), "number": a["number"],
        "referenceNumber": a.get("referenceNumber") or "", "type": a["type"],
        "inventoryLocationId": a["inventoryLocationId"], "businessUnitId": a.get("businessUnitId"),
        "projectId": None, "invoiceId": a.get("invoiceId"), "createdById": None, "memo": a.get("memo") or "",
        "date": _moment(a["date"]), "createdOn": iso(a["createdOn"]), "modifiedOn": iso(a["modifiedOn"]),
        "batchId": None, "batch": None, "syncStatus": a.get("syncStatus", "Pending"), "canceledReason": None,
        "canceledById": None, "dateCanceled": None, "externalData": external_data(a, guid),
        "items": [
            {
                "id": item["id"], "skuId": item["skuId"], "description": item.get("description") or "",
                "createdOn": iso(a["createdOn"]), "modifiedOn": iso(a["modifiedOn"]), "name": item["name"],
                "code": item["code"], "quantity": item["quantity"], "cost": item["cost"],
                "totalCost": item["quantity"] * item["cost"], "createdById": None, "active": True,
                "budgetCodeId": None, "serialNumbers": [],
            }
            for item in a["items"]
        ],
        "customFields": [],
    }


def warehouse(w: dict, guid: str | None = None) -> dict:
    return {
        "id": w["id"], "name": w["name"], "active": bool(w.get("active", True)), "address": _address(w.get("address")),
        "inventoryTemplateId": None, "createdOn": iso(w["createdOn"]), "modifiedOn": iso(w["modifiedOn"]),
        "externalData": external_data(w, guid),
    }


def truck(t: dict, guid: str | None = None) -> dict:
    return {
        "id": t["id"], "name": t["name"], "active": bool(t.get("active", True)), "memo": t.get("memo") or "",
        "warehouseId": t.get("warehouseId"), "technicianIds": list(t.get("technicianIds", [])),
        "inventoryTemplateId": None, "createdOn": iso(t["createdOn"]), "modifiedOn": iso(t["modifiedOn"]),
        "externalData": external_data(t, guid),
    }


# --- pricebook --------------------------------------------------------------------------------
def _sku_vendor(link: dict | None) -> dict | None:
    if not link:
        return None
    return {
        "id": link["id"], "vendorName": link["vendorName"], "vendorId": link["vendorId"], "memo": None,
        "vendorPart": link.get("vendorPart"), "cost": link["cost"], "active": True,
        "primarySubAccount": None, "otherSubAccounts": [],
    }


def _sku_common(s: dict, guid: str | None) -> dict:
    return {
        "id": s["id"], "code": s["code"], "displayName": s.get("displayName"),
        "description": s.get("description") or "",
        "active": bool(s.get("active", True)), "price": s["price"], "memberPrice": s["price"],
        "addOnPrice": s["price"], "addOnMemberPrice": s["price"], "hours": s.get("hours", ZERO),
        "bonus": ZERO, "commissionBonus": ZERO, "paysCommission": False,
        "modifiedOn": iso(s["modifiedOn"]), "createdOn": iso(s["createdOn"]), "source": None,
        "externalId": None, "externalData": external_data(s, guid), "assets": [],
        "account": s.get("account"), "cost": s.get("cost", ZERO), "defaultAssetUrl": None,
        "budgetCostCode": None, "budgetCostType": None, "isPriceLocked": None,
    }


def material(s: dict, guid: str | None = None) -> dict:
    """MaterialResponse; ExportMaterialResponse has the same properties."""
    out = _sku_common(s, guid)
    out.update({
        "deductAsJobCost": False, "unitOfMeasure": s.get("unitOfMeasure"), "isInventory": bool(s.get("isInventory")),
        "costOfSaleAccount": s.get("costOfSaleAccount"), "assetAccount": s.get("assetAccount"), "taxable": True,
        "primaryVendor": _sku_vendor(s.get("primaryVendor")), "otherVendors": [], "categories": [],
        "isConfigurableMaterial": False, "chargeableByDefault": True, "variationsOrConfigurableMaterials": [],
        "businessUnitId": None, "createdById": 1, "displayInAmount": True, "generalLedgerAccountId": None,
        "isOtherDirectCost": False, "costTypeId": None, "isCostLocked": None, "isChemical": None,
        "epaNumber": None, "activeIngredients": None,
    })
    return out


def equipment(s: dict, guid: str | None = None) -> dict:
    """EquipmentResponse; ExportEquipmentResponse has the same properties."""
    out = _sku_common(s, guid)
    out.update({
        "manufacturer": s.get("manufacturer"), "model": s.get("model"),
        "manufacturerWarranty": {"duration": 120, "description": "10-year parts"},
        "serviceProviderWarranty": {"duration": 12, "description": "1-year labor"},
        "categories": [], "recommendations": [], "upgrades": [], "equipmentMaterials": [],
        "primaryVendor": _sku_vendor(s.get("primaryVendor")), "otherVendors": [],
        "costOfSaleAccount": s.get("costOfSaleAccount"), "assetAccount": s.get("assetAccount"),
        "crossSaleGroup": None, "taxable": True, "unitOfMeasure": s.get("unitOfMeasure"),
        "isInventory": bool(s.get("isInventory")), "isConfigurableEquipment": False,
        "variationsOrConfigurableEquipment": [], "typeId": None, "displayInAmount": True,
        "generalLedgerAccountId": None, "dimensions": None, "isCostLocked": None,
    })
    return out


def service(s: dict, guid: str | None = None, *, export: bool = False) -> dict:
    """ServiceGetResponse (list) / ExportServiceResponse (export; no calculatedPrice/useStaticPrices)."""
    out = _sku_common(s, guid)
    out.update({
        "warranty": None, "categories": [], "taxable": False, "isLabor": True, "recommendations": [],
        "upgrades": [], "serviceMaterials": [], "serviceEquipment": [], "crossSaleGroup": None,
        "businessUnitId": None, "soldByCommission": ZERO,
    })
    if not export:
        out["calculatedPrice"] = None
        out["useStaticPrices"] = None
    return out


# --- settings ---------------------------------------------------------------------------------
def business_unit(bu: dict, tenant: dict) -> dict:
    address = _address(bu.get("address"))
    address.update({"latitude": None, "longitude": None, "isManualCoordinates": False, "isMilitary": False})
    return {
        "id": bu["id"], "active": bool(bu.get("active", True)), "name": bu["name"],
        "officialName": bu.get("officialName"), "email": bu.get("email"), "currency": "USD",
        "phoneNumber": bu.get("phoneNumber"), "invoiceHeader": None, "invoiceMessage": None,
        "defaultTaxRate": bu.get("defaultTaxRate"), "authorizationParagraph": None, "acknowledgementParagraph": None,
        "address": address, "materialSku": None, "quickbooksClass": None, "accountCode": bu.get("accountCode"),
        "franchiseId": None, "conceptCode": None, "corporateContractNumber": None,
        "trade": bu.get("trade"), "division": None, "tagTypeIds": [], "tenant": tenant,
        "createdOn": iso(bu["createdOn"]), "modifiedOn": iso(bu["modifiedOn"]),
        "externalData": external_data(bu), "certifiedSentriconSpecialistCode": None,
    }


def technician(t: dict) -> dict:
    return {
        "id": t["id"], "userId": t["userId"], "name": t["name"], "roleIds": [],
        "businessUnitId": t.get("businessUnitId"),
        "mainZoneId": None, "zoneIds": [], "createdOn": iso(t["createdOn"]), "modifiedOn": iso(t["modifiedOn"]),
        "email": t.get("email"), "phoneNumber": t.get("phoneNumber"), "loginName": t.get("loginName"), "home": None,
        "dailyGoal": ZERO, "isManagedTech": False, "licenseType": "NonManagedTech", "customFields": [],
        "active": bool(t.get("active", True)), "aadUserId": None, "burdenRate": ZERO, "team": t.get("team"),
        "jobFilter": None, "permissions": [], "accountLocked": False, "commissionRate": ZERO, "currentValue": None,
        "firstName": t.get("firstName"), "lastName": t.get("lastName"), "hourlyRate": t.get("hourlyRate", ZERO),
        "jobId": None, "mobilePhone": None, "outboundCallerId": None, "payrollId": None, "payrollProfileId": None,
        "appoitmentId": None, "shiftStart": None, "shiftEnd": None, "soldByRate": ZERO, "startDate": None,
        "status": "Idle", "skills": [], "positions": ["Service"], "location": None, "bio": None, "memo": None,
    }
