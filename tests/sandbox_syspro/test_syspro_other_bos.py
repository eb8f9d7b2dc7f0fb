"""APSSSP, PORTOI, INVTMA and the query business objects (INVQRY, PORQRY, APSQRY, COMFND)."""
from __future__ import annotations

import json
from decimal import Decimal

from .conftest import apstin_doc, apstin_item, apstin_params, errors, items

APSSSP_PARAMS = ("<SetupApSupplier><Parameters><IgnoreWarnings>N</IgnoreWarnings>"
                 "<ApplyIfEntireDocumentValid>N</ApplyIfEntireDocumentValid><ValidateOnly>{v}</ValidateOnly>"
                 "</Parameters></SetupApSupplier>")
PORTOI_PARAMS = ("<PostPurchaseOrders><Parameters><ValidateOnly>N</ValidateOnly><IgnoreWarnings>Y</IgnoreWarnings>"
                 "<Status>1</Status></Parameters></PostPurchaseOrders>")
INVTMA_PARAMS = ("<PostInvAdjustments><Parameters><TransactionDate>{date}</TransactionDate>"
                 "<PhysicalCount>{count}</PhysicalCount><PostingPeriod>C</PostingPeriod>"
                 "<ApplyIfEntireDocumentValid>Y</ApplyIfEntireDocumentValid><ValidateOnly>N</ValidateOnly>"
                 "</Parameters></PostInvAdjustments>")


def supplier_doc(code: str, **fields: str) -> str:
    body = "".join(f"<{k}>{v}</{k}>" for k, v in fields.items())
    return f"<SetupApSupplier><Item><Key><Supplier>{code}</Supplier></Key>{body}</Item></SetupApSupplier>"


def odata(enet, entity: str, **params) -> list[dict]:
    response = enet.odata(entity, **params)
    assert response.status_code == 200, response.text
    return json.loads(response.text, parse_float=Decimal)["value"]


# -- APSSSP ----------------------------------------------------------------------------------


def test_apsssp_add_then_update_then_errors(enet, state):
    add = enet.post("APSSSP", supplier_doc("WATSCO", SupplierName="Watsco &amp; Co", Branch="SOUTH",
                                           Email="ap@watsco.example", Fax="ignored"),
                    APSSSP_PARAMS.format(v="N"), op="Setup/Add")
    assert add.tag == "setupapsupplier"
    assert add.findtext("item/key/supplier") == "WATSCO"
    assert (add.findtext("StatusOfItems/RecordsRead"), add.findtext("StatusOfItems/RecordsInvalid")) == ("1", "0")
    assert state.suppliers["WATSCO"]["SupplierName"] == "Watsco & Co"

    update = enet.post("APSSSP", supplier_doc("WATSCO", OnHold="Y", Telephone="555-0100"),
                       APSSSP_PARAMS.format(v="N"), op="Setup/Update")
    assert errors(update.find("item")) == {}
    (row,) = odata(enet, "ApSupplier", **{"$filter": "Supplier eq 'WATSCO'"})
    assert (row["SupplierName"], row["OnHold"], row["Telephone"], row["Branch"]) == \
        ("Watsco & Co", "Y", "555-0100", "SOUTH")

    again = enet.post("APSSSP", supplier_doc("WATSCO", SupplierName="Dup"), APSSSP_PARAMS.format(v="N"),
                      op="Setup/Add")
    assert errors(again.find("item")) == {"supplier": ("120401", "Supplier 'WATSCO' already exists")}
    assert again.findtext("StatusOfItems/RecordsInvalid") == "1"
    missing = enet.post("APSSSP", supplier_doc("GHOST", Telephone="1"), APSSSP_PARAMS.format(v="N"),
                        op="Setup/Update")
    assert errors(missing.find("item")) == {"supplier": ("110400", "Supplier 'GHOST' not found")}
    bad_branch = enet.post("APSSSP", supplier_doc("NEWONE", SupplierName="N", Branch="MARS"),
                           APSSSP_PARAMS.format(v="N"), op="Setup/Add")
    assert set(errors(bad_branch.find("item"))) == {"branch"}
    too_long = enet.post("APSSSP", supplier_doc("X" * 16, SupplierName="N"), APSSSP_PARAMS.format(v="N"),
                         op="Setup/Add")
    assert set(errors(too_long.find("item"))) == {"supplier"}
    assert "NEWONE" not in state.suppliers


def test_apsssp_validate_only_changes_nothing(enet, state):
    root = enet.post("APSSSP", supplier_doc("WATSCO", SupplierName="W"), APSSSP_PARAMS.format(v="Y"),
                     op="Setup/Add")
    assert errors(root.find("item")) == {}
    assert "WATSCO" not in state.suppliers


# -- PORTOI ----------------------------------------------------------------------------------


def po_add(po_number: str = "", supplier: str = "FERGUSON", stock_code: str = "FLT-1620") -> str:
    return f"""<PostPurchaseOrders><Orders><OrderHeader><OrderActionType>A</OrderActionType>
        <Supplier>{supplier}</Supplier><PurchaseOrder>{po_number}</PurchaseOrder><Warehouse>N1</Warehouse>
        <CustomerPoNumber>ST-PO-55</CustomerPoNumber><OrderDate>2026-03-14</OrderDate><DueDate>2026-03-20</DueDate>
        </OrderHeader><OrderDetails>
        <StockLine><PurchaseOrderLine>1</PurchaseOrderLine><LineActionType>A</LineActionType>
          <StockCode>{stock_code}</StockCode><OrderQty>12</OrderQty><Price>4.25000</Price>
          <LedgerCode>5000-100</LedgerCode></StockLine>
        <StockLine><StockCode>REF-R410A</StockCode><Warehouse>S1</Warehouse><OrderQty>2.5</OrderQty>
          <Price>150</Price></StockLine>
        </OrderDetails></Orders></PostPurchaseOrders>"""


def test_portoi_add_change_cancel_visible_in_odata(enet, state):
    add = enet.post("PORTOI", po_add(), PORTOI_PARAMS)
    assert add.tag == "postpurchaseorders"
    number = add.findtext("item/key/purchaseorder")
    assert number == "000001"
    assert add.findtext("StatusOfItems/ItemsInvalid") == "000000"
    (header,) = odata(enet, "PorMasterHdr")
    assert header == {"PurchaseOrder": "000001", "Supplier": "FERGUSON", "OrderEntryDate": "2026-03-14",
                      "OrderDueDate": "2026-03-20", "Warehouse": "N1", "OrderStatus": "1",
                      "CustomerPoNumber": "ST-PO-55", "Branch": "NORTH"}
    lines = odata(enet, "PorMasterDetail", **{"$orderby": "Line"})
    assert [(line["Line"], line["MStockCode"], line["MWarehouse"], line["MOrderQty"], line["MPrice"], line["MGlCode"])
            for line in lines] == [(1, "FLT-1620", "N1", Decimal("12"), Decimal("4.25000"), "5000-100"),
                                (2, "REF-R410A", "S1", Decimal("2.5"), Decimal("150"), "")]
    assert lines[0]["MStockDes"] == "Filter 16x20x1"

    change = enet.post("PORTOI", """<PostPurchaseOrders><Orders><OrderHeader><OrderActionType>C</OrderActionType>
        <PurchaseOrder>000001</PurchaseOrder></OrderHeader><OrderDetails>
        <StockLine><PurchaseOrderLine>1</PurchaseOrderLine><LineActionType>C</LineActionType><OrderQty>10</OrderQty>
        <LatestDueDate>2026-04-30</LatestDueDate></StockLine>
        <StockLine><PurchaseOrderLine>2</PurchaseOrderLine><LineActionType>D</LineActionType></StockLine>
        <StockLine><LineActionType>A</LineActionType><StockCode>FLT-1620</StockCode><OrderQty>1</OrderQty></StockLine>
        </OrderDetails></Orders></PostPurchaseOrders>""", PORTOI_PARAMS)
    assert errors(change.find("item")) == {}
    lines = odata(enet, "PorMasterDetail", **{"$select": "Line,MOrderQty,MWarehouse"})
    assert lines == [{"Line": 1, "MOrderQty": Decimal("10"), "MWarehouse": "N1"},
                     {"Line": 3, "MOrderQty": Decimal("1"), "MWarehouse": "N1"}]

    cancel = enet.post("PORTOI", "<PostPurchaseOrders><Orders><OrderHeader><OrderActionType>D</OrderActionType>"
                                 "<PurchaseOrder>1</PurchaseOrder></OrderHeader></Orders></PostPurchaseOrders>",
                       PORTOI_PARAMS)
    assert cancel.findtext("item/key/purchaseorder") == "000001"
    assert odata(enet, "PorMasterHdr", **{"$select": "OrderStatus"}) == [{"OrderStatus": "*"}]
    porqry = enet.query("PORQRY", "<Query><Key><PurchaseOrder> 00001</PurchaseOrder></Key></Query>")
    assert (porqry.tag, porqry.findtext("OrderStatus"), porqry.findtext("OrderStatusDescription")) == \
        ("PorDetail", "*", "Cancelled")
    merchandise = porqry.find("PurchaseOrderLine/Merchandise")
    assert merchandise.findtext("Unedited_MOrderQty") == "           10.000000"
    assert merchandise.findtext("MOrderQty") == "10.000"
    again = enet.post("PORTOI", "<PostPurchaseOrders><Orders><OrderHeader><OrderActionType>C</OrderActionType>"
                                "<PurchaseOrder>000001</PurchaseOrder></OrderHeader></Orders></PostPurchaseOrders>",
                      PORTOI_PARAMS)
    assert errors(again.find("item"))["purchaseorder"][0] == "260003"


def test_portoi_validation_errors_and_default_validate_only(enet, state):
    bad = enet.post("PORTOI", po_add(supplier="NOBODY", stock_code="NOPE"), PORTOI_PARAMS)
    assert set(errors(bad.find("item"))) == {"supplier", "stockcode"}
    assert bad.findtext("StatusOfItems/ItemsInvalid") == "000001"
    # PORTOI's XSD default for ValidateOnly is Y: without parameters nothing is added.
    assert errors(enet.post("PORTOI", po_add()).find("item")) == {}
    assert state.purchase_orders == {}
    manual = enet.post("PORTOI", po_add(po_number="M-1"), PORTOI_PARAMS)
    assert manual.findtext("item/key/purchaseorder") == "M-1"
    duplicate = enet.post("PORTOI", po_add(po_number="M-1"), PORTOI_PARAMS)
    assert errors(duplicate.find("item"))["purchaseorder"][0] == "260002"
    unknown = enet.post("PORTOI", "<PostPurchaseOrders><Orders><OrderHeader><OrderActionType>D</OrderActionType>"
                                  "<PurchaseOrder>999</PurchaseOrder></OrderHeader></Orders></PostPurchaseOrders>",
                        PORTOI_PARAMS)
    assert errors(unknown.find("item"))["purchaseorder"][1] == "Purchase order '999' not found"


# -- INVTMA ----------------------------------------------------------------------------------


def adjustment(stock_code: str, warehouse: str, quantity: str, reference: str = "ST-ADJ-1") -> str:
    return (f"<Item><Journal/><Warehouse>{warehouse}</Warehouse><StockCode>{stock_code}</StockCode>"
            f"<Quantity>{quantity}</Quantity><Reference>{reference}</Reference><Notation>van restock</Notation></Item>")


def test_invtma_changes_qty_on_hand_and_records_movements(enet, state):
    root = enet.post("INVTMA", f"<PostInvAdjustments>{adjustment('FLT-1620', 'N1', '-5')}"
                               f"{adjustment('REF-R410A', 'N1', '12.5', 'ST-ADJ-2')}</PostInvAdjustments>",
                     INVTMA_PARAMS.format(date="2026-03-14", count="N"))
    assert root.tag == "postinvadjustments"
    first, second = items(root)
    assert (first.findtext("Journal"), first.findtext("GlJournal"), first.findtext("ItemNumber")) == \
        ("1", "1", "000001")
    assert second.findtext("ItemNumber") == "000002"
    levels = odata(enet, "InvWarehouse", **{"$filter": "Warehouse eq 'N1'", "$orderby": "StockCode"})
    assert [(r["StockCode"], r["QtyOnHand"]) for r in levels] == [("FLT-1620", Decimal("35")),
                                                                  ("REF-R410A", Decimal("12.5"))]
    movements = odata(enet, "InvMovements")
    assert [(m["StockCode"], m["TrnType"], m["MovementType"], m["TrnQty"], m["Reference"], m["Journal"],
             m["EntryNumber"], m["EntryDate"]) for m in movements] == [
        ("FLT-1620", "A", "I", Decimal("-5"), "ST-ADJ-1", 1, 1, "2026-03-14"),
        ("REF-R410A", "A", "I", Decimal("12.5"), "ST-ADJ-2", 1, 2, "2026-03-14"),
    ]
    assert movements[0]["Notation"] == "van restock"

    invqry = enet.query("INVQRY", '<Query><Key><StockCode>FLT-1620</StockCode></Key><Filter>'
                                  '<Warehouse FilterType="L" FilterValue="N1"/></Filter></Query>')
    assert invqry.tag == "InvQuery"
    assert invqry.findtext("StockItem/Description") == "Filter 16x20x1"
    (warehouse,) = invqry.findall("WarehouseItem")
    assert warehouse.findtext("QtyOnHand") == "           35.000000"
    assert warehouse.findtext("AvailableQty").strip() == "35.000000"


def test_invtma_validation_is_all_or_nothing(enet, state):
    root = enet.post("INVTMA", f"<PostInvAdjustments>{adjustment('FLT-1620', 'N1', '3')}"
                               f"{adjustment('NOPE', 'N1', '1')}{adjustment('FLT-1620', 'ZZ', '1')}"
                               f"{adjustment('NOWHERE', 'S1', '1')}</PostInvAdjustments>",
                     INVTMA_PARAMS.format(date="2026-03-14", count="N"))
    ok, unknown_stock, unknown_wh, not_stocked = (errors(i) for i in items(root))
    assert ok == {}
    assert unknown_stock == {"stockcode": ("240004", "Stock code 'NOPE' not found")}
    assert unknown_wh == {"warehouse": ("240005", "Warehouse 'ZZ' not found")}
    assert not_stocked["stockcode"][0] == "240006"
    assert state.movements == [] and state.stock_levels[("FLT-1620", "N1")] == Decimal("40")
    closed = enet.post("INVTMA", f"<PostInvAdjustments>{adjustment('FLT-1620', 'N1', '3')}</PostInvAdjustments>",
                       INVTMA_PARAMS.format(date="2025-12-01", count="N"))
    assert errors(items(closed)[0])["postingperiod"][1] == "Posting period is closed"


def test_invtma_physical_count_sets_the_quantity(enet, state):
    enet.post("INVTMA", f"<PostInvAdjustments>{adjustment('FLT-1620', 'N1', '31')}</PostInvAdjustments>",
              INVTMA_PARAMS.format(date="", count="Y"))
    assert state.stock_levels[("FLT-1620", "N1")] == Decimal("31")
    assert state.movements[-1]["TrnQty"] == Decimal("-9")


def test_seed_adjust_stock_records_a_movement_like_a_user(state):
    state.adjust_stock("FLT-1620", "S1", 7, reference="seed")
    assert state.stock_levels[("FLT-1620", "S1")] == Decimal("7")
    assert state.movements[-1]["TrnType"] == "A" and state.movements[-1]["Reference"] == "seed"


# -- queries ---------------------------------------------------------------------------------


def test_apsqry_lists_supplier_and_invoices(enet):
    enet.post("APSTIN", apstin_doc(apstin_item()), apstin_params())
    root = enet.query("APSQRY", "<Query><Key><Supplier>FERGUSON</Supplier></Key>"
                                "<Option><IncludeInvoices>Y</IncludeInvoices></Option></Query>")
    assert root.findtext("SupplierName") == "Ferguson HVAC Supply"
    assert [i.findtext("Invoice") for i in root.findall("InvoiceItem")] == ["INV-1001"]
    assert root.findtext("InvoiceItem/Unedited_OrigInvValue").strip() == "110.00"
    missing = enet.get("Query/Query", UserId=enet.user_id, BusinessObject="APSQRY",
                       XmlIn="<Query><Key><Supplier>NOBODY</Supplier></Key></Query>").text
    assert missing == "ERROR: e.net exception 100000: Supplier 'NOBODY' not found"


def test_comfnd_conditions_brackets_and_order(enet):
    def find(where: str, table: str = "ApSupplier", order: str = "Supplier") -> list[str]:
        root = enet.query("COMFND", f"<Query><TableName>{table}</TableName><Columns><Column>Supplier</Column>"
                                    f"</Columns><Where>{where}</Where><OrderBy><Column>{order}</Column></OrderBy>"
                                    "</Query>")
        return [r.findtext("Supplier") for r in root.findall("Row")]

    def expr(column, condition, value, and_or="And", open_="", close=""):
        return (f"<Expression><OpenBracket>{open_}</OpenBracket><AndOr>{and_or}</AndOr><Column>{column}</Column>"
                f"<Condition>{condition}</Condition><Value>{value}</Value><CloseBracket>{close}</CloseBracket>"
                "</Expression>")

    assert find("") == ["FERGUSON", "HOLDCO", "JOHNSTONE"]
    assert find(expr("Branch", "EQ", "NORTH")) == ["FERGUSON", "HOLDCO"]
    assert find(expr("Branch", "NE", "NORTH")) == ["JOHNSTONE"]
    assert find(expr("Supplier", "GT", "FERGUSON")) == ["HOLDCO", "JOHNSTONE"]
    assert find(expr("Supplier", "GE", "HOLDCO") + expr("Supplier", "LE", "HOLDCO")) == ["HOLDCO"]
    assert find(expr("Supplier", "LT", "G") + expr("Supplier", "EQ", "JOHNSTONE", "Or")) == ["FERGUSON", "JOHNSTONE"]
    # AND binds tighter than OR unless brackets say otherwise.
    no_brackets = expr("Branch", "EQ", "SOUTH") + expr("OnHold", "EQ", "N", "Or") + expr("Branch", "EQ", "NORTH")
    assert find(no_brackets) == ["FERGUSON", "JOHNSTONE"]
    brackets = (expr("Branch", "EQ", "SOUTH", open_="(") + expr("OnHold", "EQ", "N", "Or", close=")")
                + expr("Branch", "EQ", "NORTH"))
    assert find(brackets) == ["FERGUSON"]
    bad = enet.get("Query/Query", UserId=enet.user_id, BusinessObject="COMFND",
                   XmlIn="<Query><TableName>NoSuchTable</TableName></Query>").text
    assert bad.startswith("ERROR: e.net exception 100000: ")


def test_comfnd_covers_every_contract_table(enet, state):
    state.add_purchase_order("FERGUSON", [{"StockCode": "FLT-1620", "OrderQty": 3, "Price": "2.5"}], warehouse="N1")
    state.adjust_stock("FLT-1620", "N1", 1)
    enet.post("APSTIN", apstin_doc(apstin_item()), apstin_params())
    for table in ("ApInvoice", "ApSupplier", "InvMaster", "InvWarehouse", "InvWhControl", "GenMaster",
                  "PorMasterHdr", "PorMasterDetail", "InvMovements"):
        root = enet.query("COMFND", f"<Query><TableName>{table}</TableName><ReturnRows>2</ReturnRows></Query>")
        assert root.tag == table
        assert root.findtext("HeaderDetails/TableName") == table
        assert 1 <= len(root.findall("Row")) <= 2
        assert int(root.findtext("RowsReturned")) == len(root.findall("Row"))
