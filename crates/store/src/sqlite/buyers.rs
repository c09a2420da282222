//! Reading buyers out of result rows: every query that reads a buyer
//! starts with `BUYER_COLUMNS`, and `buyer_from_row` reads them.

use payfac_domain::Buyer;

pub(super) const BUYER_COLUMNS: &str = "SELECT b.user_id, b.merchant_id, b.merchant_user_no, b.email, \
                             b.first_name, b.last_name";

pub(super) fn buyer_from_row(row: &rusqlite::Row<'_>) -> Result<Buyer, rusqlite::Error> {
    Ok(Buyer {
        user_id: row.get(0)?,
        merchant: row.get(1)?,
        merchant_user_no: row.get(2)?,
        email: row.get(3)?,
        first_name: row.get(4)?,
        last_name: row.get(5)?,
    })
}
